/**
 * Passkeys (docs/passkeys.md): registering and managing them, signing in with one alone (a
 * discoverable credential: no email typed), and answering a login's second-factor challenge
 * with one. The ceremonies themselves are in passkeys.ts.
 *
 * Every challenge is 256 random bits, stored only as its SHA-256 with its ceremony (and user,
 * where one is known), usable for PASSKEY_CEREMONY_MS and once: the verification spends it
 * (a DELETE ... RETURNING with one winner) before the response is trusted.
 */
import type { LatchkeyContext, RequestMeta } from '../../context.js';
import { hashToken, newId } from '../../lib/ids.js';
import { failure, success, type Failure, type Outcome } from '../../outcome.js';
import type { AuthUser, PasskeyChallengePurpose, PasskeyRecord, UserRecord } from '../../store/types.js';
import { mailFactorChange } from '../email/factor-notice.js';
import { recordEvent } from '../events/service.js';
import { mfaRequiredFor } from './policy.js';
import { signIn, type IssuedTokens } from '../sessions/service.js';
import {
  PASSKEY_CEREMONY_MS,
  authenticationOptions,
  counterRegressed,
  registrationOptions,
  userHandleOf,
  verifyAssertion,
  verifyRegistration,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
  type SpendChallenge,
  type VerifiedAssertion,
} from './passkeys.js';

/** A passkey as the API shows it to its owner (never its public key). */
export interface PublicPasskey {
  id: string;
  name: string;
  /** 'multiDevice': a synced passkey (backup eligible); 'singleDevice': bound to one authenticator. */
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: boolean;
  transports: string[];
  aaguid: string;
  created_at: string;
  last_used_at: string | null;
}

/** The name a passkey gets when none is sent. */
export const DEFAULT_PASSKEY_NAME = 'Passkey';

export function publicPasskey(p: PasskeyRecord): PublicPasskey {
  return {
    id: p.id,
    name: p.name,
    device_type: p.deviceType,
    backed_up: p.backedUp,
    transports: p.transports,
    aaguid: p.aaguid,
    created_at: new Date(p.createdAt).toISOString(),
    last_used_at: p.lastUsedAt === null ? null : new Date(p.lastUsedAt).toISOString(),
  };
}

/**
 * RFC 8176 `amr` of a passkey: `hwk` for a device-bound key, `swk` for a synced one (its private
 * key leaves the hardware to be backed up), and `mfa` when the authenticator verified the user
 * (a PIN or biometric unlocks the key: something held and something known or been).
 */
export function passkeyAmr(assertion: Pick<VerifiedAssertion, 'deviceType' | 'userVerified'>): string[] {
  const key = assertion.deviceType === 'multiDevice' ? 'swk' : 'hwk';
  return assertion.userVerified ? [key, 'mfa'] : [key];
}

const PASSKEY_UNKNOWN: Readonly<Failure> = Object.freeze(
  failure('PASSKEY_UNKNOWN', 'This passkey is not registered here (or not for this account); it may have been removed.'),
);
export const PASSKEY_NOT_FOUND: Readonly<Failure> = Object.freeze(failure('NOT_FOUND', 'No such passkey.'));

async function hasActiveTotp(ctx: LatchkeyContext, userId: string): Promise<boolean> {
  return (await ctx.store.listFactors(userId)).some((f) => f.kind === 'totp' && f.confirmedAt !== null);
}

async function issueChallenge(ctx: LatchkeyContext, challenge: string, purpose: PasskeyChallengePurpose, userId: string | null): Promise<void> {
  const now = ctx.clock();
  await ctx.store.createPasskeyChallenge({ challengeHash: hashToken(challenge), purpose, userId, createdAt: now, expiresAt: now + PASSKEY_CEREMONY_MS });
}

/** The spender of a ceremony's challenge: live, of this purpose, and of this user (null: none bound). */
function spender(ctx: LatchkeyContext, purpose: PasskeyChallengePurpose, userId: string | null): SpendChallenge {
  return async (challenge) => {
    const spent = await ctx.store.consumePasskeyChallenge(hashToken(challenge), purpose, ctx.clock());
    return spent !== undefined && spent.userId === userId;
  };
}

/** The caller's passkeys (GET /auth/passkeys). */
export async function listOwnPasskeys(ctx: LatchkeyContext, userId: string): Promise<{ passkeys: PublicPasskey[] }> {
  return { passkeys: (await ctx.store.listPasskeys(userId)).map(publicPasskey) };
}

/** Creation options for a new passkey of the signed-in user (POST /auth/passkeys/register/options). */
export async function startPasskeyRegistration(ctx: LatchkeyContext, user: AuthUser): Promise<{ options: object }> {
  const options = await registrationOptions(ctx.config.factors, user, await ctx.store.listPasskeys(user.id));
  await issueChallenge(ctx, options.challenge, 'passkey_register', user.id);
  return { options };
}

/** Verifies the browser's answer to the creation options and stores the passkey. */
export async function finishPasskeyRegistration(
  ctx: LatchkeyContext,
  user: AuthUser,
  response: RegistrationResponseJSON,
  name: string | undefined,
  meta: RequestMeta,
): Promise<Outcome<{ passkey: PublicPasskey }>> {
  const verified = await verifyRegistration(ctx.config.factors, response, spender(ctx, 'passkey_register', user.id));
  if (!verified.ok) {
    await recordEvent(ctx, user.id, 'passkey_rejected', meta, { ceremony: 'register', code: verified.code });
    return verified;
  }
  const record: PasskeyRecord = { id: newId(), userId: user.id, ...verified.value, name: name ?? DEFAULT_PASSKEY_NAME, createdAt: ctx.clock(), lastUsedAt: null };
  if (!(await ctx.store.createPasskey(record))) {
    return failure('PASSKEY_ALREADY_REGISTERED', 'This passkey is already registered (to this account or another).');
  }
  await recordEvent(ctx, user.id, 'passkey_added', meta, { passkey_id: record.id, device_type: record.deviceType });
  mailFactorChange(ctx, user, 'passkey_added', record.name);
  return success({ passkey: publicPasskey(record) });
}

export async function renamePasskey(ctx: LatchkeyContext, user: AuthUser, id: string, name: string, meta: RequestMeta): Promise<Outcome<{ passkey: PublicPasskey }>> {
  if (!(await ctx.store.renamePasskey(user.id, id, name))) return PASSKEY_NOT_FOUND;
  const passkey = (await ctx.store.listPasskeys(user.id)).find((p) => p.id === id);
  if (!passkey) return PASSKEY_NOT_FOUND;
  await recordEvent(ctx, user.id, 'passkey_renamed', meta, { passkey_id: id });
  return success({ passkey: publicPasskey(passkey) });
}

/** Request options for a discoverable sign-in (POST /auth/passkeys/login/options): no user is known yet. */
export async function startPasskeyLogin(ctx: LatchkeyContext): Promise<{ options: object }> {
  const options = await authenticationOptions(ctx.config.factors, []);
  await issueChallenge(ctx, options.challenge, 'passkey_login', null);
  return { options };
}

/** Request options for the second-factor step of a login: the user of the mfa_token, its passkeys allowed. */
export function startPasskeySecondFactor(ctx: LatchkeyContext, userId: string): Promise<Outcome<{ options: object }>> {
  return startOwnPasskeyCeremony(ctx, userId, 'passkey_mfa', 'This account has no passkey; answer with a code.');
}

/**
 * Request options for a reauthentication with a passkey (POST /auth/reauthenticate/passkey/options):
 * only the signed-in user's passkeys are allowed, and the challenge is bound to that user.
 */
export function startPasskeyReauthentication(ctx: LatchkeyContext, userId: string): Promise<Outcome<{ options: object }>> {
  return startOwnPasskeyCeremony(ctx, userId, 'passkey_reauth', 'This account has no passkey; reauthenticate another way.');
}

async function startOwnPasskeyCeremony(
  ctx: LatchkeyContext,
  userId: string,
  purpose: 'passkey_mfa' | 'passkey_reauth',
  none: string,
): Promise<Outcome<{ options: object }>> {
  const passkeys = await ctx.store.listPasskeys(userId);
  if (passkeys.length === 0) return failure('PASSKEY_UNKNOWN', none);
  const options = await authenticationOptions(ctx.config.factors, passkeys);
  await issueChallenge(ctx, options.challenge, purpose, userId);
  return success({ options });
}

/**
 * Signs in with a passkey alone. The passkey's account is found by its credential id (and the
 * user handle, when sent, must be that account's). With user verification it is a multi-factor
 * sign-in and satisfies an account's second factor; without it, an account with an active
 * second factor is refused (PASSKEY_USER_VERIFICATION_REQUIRED) and others are signed in.
 */
export async function passkeyLogin(
  ctx: LatchkeyContext,
  response: AuthenticationResponseJSON,
  meta: RequestMeta,
): Promise<Outcome<{ user: UserRecord; tokens: IssuedTokens }>> {
  const passkey = await ctx.store.findPasskeyByCredentialId(response.id);
  if (!passkey) return PASSKEY_UNKNOWN;
  const handle = response.response.userHandle;
  if (handle !== undefined && handle !== null && handle !== Buffer.from(userHandleOf(passkey.userId)).toString('base64url')) return PASSKEY_UNKNOWN;
  const user = await ctx.store.findUserById(passkey.userId);
  if (!user) return PASSKEY_UNKNOWN;
  const used = await usePasskey(ctx, passkey, response, spender(ctx, 'passkey_login', null), meta, async (assertion) => {
    // A user of a MFA_REQUIRED_ROLES role needs a multi-factor sign-in even without TOTP.
    if (assertion.userVerified || (!mfaRequiredFor(ctx.config.factors, user) && !(await hasActiveTotp(ctx, user.id)))) return null;
    return failure(
      'PASSKEY_USER_VERIFICATION_REQUIRED',
      'This account has a second factor: sign in with a passkey that verifies you (PIN or biometric), or with the password and the second factor.',
    );
  });
  if (!used.ok) return used;
  if (user.disabled) return failure('ACCOUNT_DISABLED', 'This account has been disabled.');
  if (ctx.config.mail.requireVerifiedEmail && !user.emailVerified) {
    return failure('EMAIL_NOT_VERIFIED', 'Verify your email address first: use the link in the mail we sent.');
  }
  const tokens = await signIn(ctx, user, meta, passkeyAmr(used.value), { method: 'passkey', passkey_id: passkey.id });
  return success({ user, tokens });
}

/**
 * The second factor of a login answered with a passkey of the mfa_token's user: a passkey of
 * another account, or none of this one, is PASSKEY_UNKNOWN. Returns the sign-in's `amr`.
 */
export async function provePasskeyFactor(
  ctx: LatchkeyContext,
  user: Pick<UserRecord, 'id'>,
  response: AuthenticationResponseJSON,
  meta: RequestMeta,
): Promise<Outcome<string[]>> {
  const used = await useOwnPasskey(ctx, user, response, 'passkey_mfa', meta);
  if (!used.ok) return used;
  const [key] = passkeyAmr(used.value);
  return success(['pwd', key!, 'mfa']);
}

/**
 * A reauthentication with one of the signed-in user's passkeys, for options of
 * `startPasskeyReauthentication`: a passkey of another account (or a challenge of another
 * ceremony or user, or one already spent) is refused. Returns the passkey's `amr`.
 */
export async function provePasskeyReauthentication(
  ctx: LatchkeyContext,
  user: Pick<UserRecord, 'id'>,
  response: AuthenticationResponseJSON,
  meta: RequestMeta,
): Promise<Outcome<string[]>> {
  const used = await useOwnPasskey(ctx, user, response, 'passkey_reauth', meta);
  return used.ok ? success(passkeyAmr(used.value)) : used;
}

/** An assertion of one of `user`'s own passkeys, for a challenge of `purpose` bound to that user. */
async function useOwnPasskey(
  ctx: LatchkeyContext,
  user: Pick<UserRecord, 'id'>,
  response: AuthenticationResponseJSON,
  purpose: 'passkey_mfa' | 'passkey_reauth',
  meta: RequestMeta,
): Promise<Outcome<VerifiedAssertion>> {
  const passkey = await ctx.store.findPasskeyByCredentialId(response.id);
  if (!passkey || passkey.userId !== user.id) {
    await recordEvent(ctx, user.id, 'passkey_rejected', meta, { ceremony: purpose === 'passkey_mfa' ? 'mfa' : 'reauth', code: 'PASSKEY_UNKNOWN' });
    return PASSKEY_UNKNOWN;
  }
  return usePasskey(ctx, passkey, response, spender(ctx, purpose, user.id), meta, async () => null);
}

/**
 * Verifies an assertion of a stored passkey (spending the challenge), applies `policy` (a
 * refusal after the signature verified), checks the counter and records the use. A counter that
 * went back is refused and recorded as `passkey_counter_regression`: the key may be cloned.
 */
async function usePasskey(
  ctx: LatchkeyContext,
  passkey: PasskeyRecord,
  response: AuthenticationResponseJSON,
  spend: SpendChallenge,
  meta: RequestMeta,
  policy: (assertion: VerifiedAssertion) => Promise<Failure | null>,
): Promise<Outcome<VerifiedAssertion>> {
  const verified = await verifyAssertion(ctx.config.factors, response, passkey, spend);
  if (!verified.ok) {
    await recordEvent(ctx, passkey.userId, 'passkey_rejected', meta, { passkey_id: passkey.id, code: verified.code });
    return verified;
  }
  const assertion = verified.value;
  const refused = await policy(assertion);
  if (refused) {
    await recordEvent(ctx, passkey.userId, 'passkey_rejected', meta, { passkey_id: passkey.id, code: refused.code });
    return refused;
  }
  // The store's update is a compare-and-set on the counter: a concurrent use that recorded the
  // same or a later value first makes this one a regression too.
  if (counterRegressed(passkey.counter, assertion.newCounter) || !(await ctx.store.usePasskey(passkey.id, assertion.newCounter, assertion.backedUp, ctx.clock()))) {
    await recordEvent(ctx, passkey.userId, 'passkey_counter_regression', meta, {
      passkey_id: passkey.id,
      stored_counter: passkey.counter,
      received_counter: assertion.newCounter,
    });
    ctx.log.warn({ userId: passkey.userId, passkeyId: passkey.id }, 'passkey signature counter went back: the authenticator may be cloned');
    return failure('PASSKEY_COUNTER_REGRESSION', 'The passkey’s signature counter did not increase; the authenticator may have been cloned. Use another sign-in method.');
  }
  await recordEvent(ctx, passkey.userId, 'passkey_used', meta, { passkey_id: passkey.id, user_verified: assertion.userVerified });
  return success(assertion);
}
