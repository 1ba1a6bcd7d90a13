/**
 * The second factors concern of the storage contract: TOTP authenticators and recovery codes
 * (docs/factors.md). The store keeps what it is given: a TOTP secret arrives already in its
 * stored form (sealed under KEY_ENCRYPTION_KEY, or plaintext without one) and recovery codes
 * arrive as hashes; the store never sees a code in clear.
 */

/** The kinds of factor a user can enrol. Passkeys will be a further kind. */
export type FactorKind = 'totp';

export interface FactorRecord {
  id: string;
  userId: string;
  kind: FactorKind;
  /** The secret in its stored form (see `SecretBox.store`); the service opens it. */
  secret: string;
  createdAt: number;
  /** When the first code confirmed it; null while the enrolment is pending. */
  confirmedAt: number | null;
  /** The last TOTP time step accepted (RFC 6238 T), so that no code is accepted twice. */
  lastUsedStep: number | null;
  lastUsedAt: number | null;
}

export interface NewFactor {
  id: string;
  userId: string;
  kind: FactorKind;
  secret: string;
  createdAt: number;
}

export interface FactorStore {
  /**
   * Starts an enrolment: stores `factor` pending (unconfirmed). A pending factor of the same
   * kind is replaced (a new QR code supersedes the old one); an active one is kept and the call
   * returns false. One statement: of concurrent calls with an active factor none replaces it.
   */
  putPendingFactor(factor: NewFactor): Promise<boolean>;
  /** The user's factors, pending and active, oldest first. */
  listFactors(userId: string): Promise<FactorRecord[]>;
  /**
   * Activates a pending factor of this user with the time step of its first code, and replaces
   * the user's recovery codes by `recoveryCodeHashes`, in one transaction. Of concurrent calls
   * exactly one returns true; false when the factor is not this user's, not pending, or gone.
   */
  confirmFactor(userId: string, factorId: string, step: number, now: number, recoveryCodeHashes: readonly string[]): Promise<boolean>;
  /**
   * Records a TOTP time step as used: succeeds only when the factor is active and `step` is
   * later than the last step used. Of concurrent calls with one step exactly one returns true,
   * so a code is accepted once even when it is sent twice at the same moment.
   */
  useTotpStep(factorId: string, step: number, now: number): Promise<boolean>;
  /**
   * Deletes one factor of this user; when no active factor remains, the recovery codes go
   * with it (one transaction). False when it is not this user's or already gone.
   */
  deleteFactor(userId: string, factorId: string): Promise<boolean>;
  /** Replaces the user's recovery codes (the old set stops working at once), in one transaction. */
  replaceRecoveryCodes(userId: string, codeHashes: readonly string[], now: number): Promise<void>;
  /**
   * Spends one recovery code: of concurrent calls with one code exactly one returns true; a
   * used, unknown or other user's code gives false.
   */
  spendRecoveryCode(userId: string, codeHash: string, now: number): Promise<boolean>;
  /** How many of the user's recovery codes are still unused. */
  countRecoveryCodes(userId: string): Promise<number>;
}
