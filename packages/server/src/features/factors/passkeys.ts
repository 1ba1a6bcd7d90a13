/**
 * The WebAuthn ceremonies of passkeys (docs/passkeys.md), on `@simplewebauthn/server`: the
 * options a browser's `navigator.credentials.create/get` takes, and the verification of what it
 * answers. Every refusal of the library (it throws plain errors) becomes a Failure with a fixed
 * detail: its messages echo what the client sent (an origin, a challenge) and are not shown.
 */
import { randomBytes } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { FactorsConfig } from '../../config.js';
import { failure, success, type Failure, type Outcome } from '../../outcome.js';
import type { PasskeyDeviceType, PasskeyRecord } from '../../store/types.js';

export type { AuthenticationResponseJSON, RegistrationResponseJSON };

type RelyingParty = Pick<FactorsConfig, 'webauthnRpId' | 'webauthnRpName' | 'webauthnOrigins'>;

/** How long a browser may take over a ceremony (the options' `timeout`); the challenge lives as long. */
export const PASSKEY_CEREMONY_MS = 5 * 60_000;

/**
 * The library and its dependencies (CBOR, ASN.1, X.509) load at the first passkey ceremony, not at
 * start-up: a server without passkey users keeps them out of its memory.
 */
const webauthn = () => import('@simplewebauthn/server');

/**
 * Spends the challenge that clientDataJSON echoes (base64url, as the options carried it); true
 * when it was live, of this ceremony and, where one is bound, of this user.
 */
export type SpendChallenge = (challenge: string) => Promise<boolean>;

/** A new passkey, as verified: what the store keeps. */
export interface VerifiedRegistration {
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  deviceType: PasskeyDeviceType;
  backedUp: boolean;
  aaguid: string;
}

/** A verified assertion: the counter to record and the flags that decide the sign-in's `amr`. */
export interface VerifiedAssertion {
  newCounter: number;
  userVerified: boolean;
  deviceType: PasskeyDeviceType;
  backedUp: boolean;
}

export const PASSKEY_CHALLENGE_INVALID: Readonly<Failure> = Object.freeze(
  failure('PASSKEY_CHALLENGE_INVALID', 'The challenge is unknown, used or expired, or was issued for another ceremony; ask for new options.'),
);

/** The WebAuthn user handle of a user: the bytes of Latchkey's user id. */
export function userHandleOf(userId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(userId, 'utf8'));
}

function transportsOf(p: Pick<PasskeyRecord, 'credentialId' | 'transports'>): { id: string; transports: AuthenticatorTransport[] } {
  return { id: p.credentialId, transports: p.transports as AuthenticatorTransport[] };
}

/** 256 random bits: the challenge of one ceremony. */
function newChallenge(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(randomBytes(32));
}

/**
 * Creation options for a new passkey: discoverable (residentKey 'required', so it signs in
 * without an email typed), user verification preferred, no attestation, the user's existing
 * passkeys excluded (an authenticator that holds one says so instead of making a second).
 */
export async function registrationOptions(
  rp: RelyingParty,
  user: { id: string; email: string; name: string | null },
  existing: readonly PasskeyRecord[],
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return (await webauthn()).generateRegistrationOptions({
    rpName: rp.webauthnRpName,
    rpID: rp.webauthnRpId,
    userName: user.email,
    userDisplayName: user.name ?? user.email,
    userID: userHandleOf(user.id),
    challenge: newChallenge(),
    timeout: PASSKEY_CEREMONY_MS,
    attestationType: 'none',
    excludeCredentials: existing.map(transportsOf),
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
  });
}

/**
 * Request options for a sign-in: `allow` empty for a discoverable sign-in (the browser offers
 * the passkeys it has for this RP), else the user's passkeys (the second-factor step).
 */
export async function authenticationOptions(rp: RelyingParty, allow: readonly PasskeyRecord[]): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return (await webauthn()).generateAuthenticationOptions({
    rpID: rp.webauthnRpId,
    challenge: newChallenge(),
    timeout: PASSKEY_CEREMONY_MS,
    userVerification: 'preferred',
    allowCredentials: allow.map(transportsOf),
  });
}

/** Verifies an attestation (registration) response; the challenge is spent on the way. */
export async function verifyRegistration(
  rp: RelyingParty,
  response: RegistrationResponseJSON,
  spend: SpendChallenge,
): Promise<Outcome<VerifiedRegistration>> {
  const { verifyRegistrationResponse } = await webauthn();
  const checked = await ceremony(spend, (expectedChallenge) =>
    verifyRegistrationResponse({
      response,
      expectedChallenge,
      expectedOrigin: [...rp.webauthnOrigins],
      expectedRPID: rp.webauthnRpId,
      // UV is 'preferred': a security key without a PIN may still register.
      requireUserVerification: false,
    }),
  );
  if (!checked.ok) return checked;
  const info = checked.value.registrationInfo;
  if (!checked.value.verified || !info) return failure('PASSKEY_INVALID', REASONS.signature);
  return success({
    credentialId: info.credential.id,
    publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
    counter: info.credential.counter,
    transports: (info.credential.transports ?? response.response.transports ?? []).filter((t) => /^[a-z-]{1,32}$/.test(t)).slice(0, 8),
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    aaguid: info.aaguid,
  });
}

/**
 * Verifies an assertion of a stored passkey; the challenge is spent on the way. The signature
 * counter is compared by the caller (a regression is a security event, not just a refusal): the
 * library's own check is turned off by giving it a counter of 0.
 */
export async function verifyAssertion(
  rp: RelyingParty,
  response: AuthenticationResponseJSON,
  passkey: PasskeyRecord,
  spend: SpendChallenge,
): Promise<Outcome<VerifiedAssertion>> {
  const { verifyAuthenticationResponse } = await webauthn();
  const checked = await ceremony(spend, (expectedChallenge) =>
    verifyAuthenticationResponse({
      response,
      expectedChallenge,
      expectedOrigin: [...rp.webauthnOrigins],
      expectedRPID: rp.webauthnRpId,
      credential: { id: passkey.credentialId, publicKey: new Uint8Array(Buffer.from(passkey.publicKey, 'base64url')), counter: 0 },
      // The caller decides whether UV is needed (a discoverable sign-in of an account with a second factor).
      requireUserVerification: false,
    }),
  );
  if (!checked.ok) return checked;
  const { verified, authenticationInfo: info } = checked.value;
  if (!verified) return failure('PASSKEY_INVALID', REASONS.signature);
  return success({ newCounter: info.newCounter, userVerified: info.userVerified, deviceType: info.credentialDeviceType, backedUp: info.credentialBackedUp });
}

/**
 * True when the counter went back or stood still while either is non-zero (WebAuthn §6.1.1): a
 * cloned authenticator, or a broken one. Authenticators that keep no counter send 0 every time.
 */
export function counterRegressed(stored: number, received: number): boolean {
  return (stored > 0 || received > 0) && received <= stored;
}

const REASONS = {
  origin: 'The response comes from an origin this server does not accept (WEBAUTHN_ORIGINS).',
  rpId: 'The response is for another relying party (WEBAUTHN_RP_ID).',
  type: 'The response is of another ceremony (webauthn.create for registration, webauthn.get for sign-in).',
  presence: 'The authenticator did not report user presence.',
  signature: 'The passkey response did not verify.',
} as const;

function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  if (/origin/i.test(message)) return REASONS.origin;
  if (/RP ?ID/i.test(message)) return REASONS.rpId;
  if (/response type/i.test(message)) return REASONS.type;
  if (/User not present|user presence/i.test(message)) return REASONS.presence;
  return REASONS.signature;
}

/**
 * Runs one verification of the library. A store error inside the challenge callback (the
 * database down) is rethrown as itself, so it is answered 503 and not taken for a bad response;
 * any other throw is the library refusing the response.
 */
async function ceremony<T>(spend: SpendChallenge, verify: (expected: SpendChallenge) => Promise<T>): Promise<Outcome<T>> {
  let storeError: { error: unknown } | undefined;
  let challengeRefused = false;
  const expected: SpendChallenge = async (challenge) => {
    try {
      const live = await spend(challenge);
      if (!live) challengeRefused = true;
      return live;
    } catch (error) {
      storeError = { error };
      throw error;
    }
  };
  try {
    return success(await verify(expected));
  } catch (err) {
    if (storeError) throw storeError.error;
    if (challengeRefused) return PASSKEY_CHALLENGE_INVALID;
    return failure('PASSKEY_INVALID', reasonOf(err));
  }
}
