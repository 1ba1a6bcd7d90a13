/**
 * The passkeys concern of the storage contract (docs/passkeys.md): WebAuthn credentials and the
 * challenges of their ceremonies. The store keeps what it is given: a credential's public key
 * (not a secret) and a challenge only as its SHA-256.
 *
 * The challenges are not one-time tokens (that table's `user_id` is required): a discoverable
 * sign-in asks for a challenge before anyone is known, so a challenge's user is optional here.
 */

/** Which ceremony a challenge was issued for; a challenge answers only its own. */
export type PasskeyChallengePurpose = 'passkey_register' | 'passkey_login' | 'passkey_mfa' | 'passkey_reauth';

/** WebAuthn's credential device type: backup eligible ('multiDevice', a synced passkey) or not. */
export type PasskeyDeviceType = 'singleDevice' | 'multiDevice';

export interface PasskeyRecord {
  /** Latchkey's id of the passkey (the API's `id`). */
  id: string;
  userId: string;
  /** The WebAuthn credential id, base64url: unique across every user. */
  credentialId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  /** The last signature counter seen (0 for authenticators that keep none). */
  counter: number;
  transports: string[];
  deviceType: PasskeyDeviceType;
  backedUp: boolean;
  /** The authenticator model's AAGUID (all zeros when attestation is 'none' and it sends none). */
  aaguid: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export type NewPasskey = Omit<PasskeyRecord, 'lastUsedAt'>;

export interface NewPasskeyChallenge {
  /** SHA-256 (hex) of the challenge the options carried (base64url, as clientDataJSON echoes it). */
  challengeHash: string;
  purpose: PasskeyChallengePurpose;
  /** The user it was issued to; null for a discoverable sign-in. */
  userId: string | null;
  createdAt: number;
  expiresAt: number;
}

export interface PasskeyStore {
  /**
   * Stores a new passkey. False, and nothing stored, when its credential id is already stored
   * (for this user or another): one statement against the unique index, so of concurrent calls
   * with one credential id exactly one returns true.
   */
  createPasskey(passkey: NewPasskey): Promise<boolean>;
  /** The user's passkeys, oldest first. */
  listPasskeys(userId: string): Promise<PasskeyRecord[]>;
  /** The passkey with this WebAuthn credential id, whoever owns it; null when none. */
  findPasskeyByCredentialId(credentialId: string): Promise<PasskeyRecord | null>;
  /** Renames a passkey of this user; false when it is not this user's or gone. */
  renamePasskey(userId: string, id: string, name: string): Promise<boolean>;
  /** Deletes a passkey of this user; false when it is not this user's or gone. */
  deletePasskey(userId: string, id: string): Promise<boolean>;
  /**
   * Records a verified use: the new signature counter, the backup state and the time. Monotonic:
   * it succeeds only while the stored counter is lower than `counter` (or both are 0, for
   * authenticators that keep no counter), so of concurrent calls with one counter value at most
   * one returns true, and a counter never goes back.
   */
  usePasskey(id: string, counter: number, backedUp: boolean, now: number): Promise<boolean>;
  /** Stores a challenge (hashed) until it is consumed or expires. */
  createPasskeyChallenge(challenge: NewPasskeyChallenge): Promise<void>;
  /**
   * Spends a challenge: of concurrent calls with one hash exactly one receives it (with its user,
   * null for a discoverable sign-in); an expired, spent, unknown or other-purpose one gives
   * undefined. A spent challenge is deleted, so it can never answer again.
   */
  consumePasskeyChallenge(challengeHash: string, purpose: PasskeyChallengePurpose, now: number): Promise<{ userId: string | null } | undefined>;
  /** Deletes at most `limit` expired challenges (the PURGE_INTERVAL sweep); how many went. */
  purgePasskeyChallenges(now: number, limit: number): Promise<number>;
}
