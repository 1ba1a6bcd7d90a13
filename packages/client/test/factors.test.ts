import type { AddressInfo } from 'node:net';
import { Secret, TOTP } from 'otpauth';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestApp, type TestApp } from '../../server/test/support/helpers.js';
import { SoftwareAuthenticator, type CreationOptions, type RequestOptions } from '../../server/test/support/webauthn-authenticator.js';
import { createClient, ReauthenticationRequiredError, type ClientOptions, type LatchkeyClient, type MfaRequired } from '../src/index.js';
import { cookieJarBrowser, type CookieJarBrowser } from './cookie-jar.js';
import { newChannel, newEmail, PASSWORD, recordEvents, rejection, waitForState } from './support.js';

// Second factors through the SDK against a real Latchkey (SQLite file, HTTP on 127.0.0.1), with
// cookie-jar "browsers" as in client.test.ts. The server clock is frozen and stepped; TOTP codes
// are computed here with the otpauth library for the server's clock. Passkeys use the server
// suite's software authenticator (real P-256 keys and signatures) behind the `credentials`
// option, standing in for navigator.credentials: Node has no PublicKeyCredential, so the SDK's
// own base64url conversion (the fallback for browsers without the JSON helpers) is what runs.

const ORIGIN = 'http://latchkey.test'; // ISSUER of the test app: the RP ID is latchkey.test
const STEP = 30_000;

let server: TestApp;
let baseUrl: string;
const open: LatchkeyClient[] = [];

beforeAll(async () => {
  server = await createTestApp({ COOKIE_SECURE: 'false', LOG_LEVEL: 'silent', RATE_LIMIT_LOGIN: '1000/1m' }, { clock: true });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await server.close();
});

afterEach(() => {
  for (const client of open.splice(0)) client.close();
});

function tab(browser: CookieJarBrowser, channel: string, extra: Partial<ClientOptions> = {}): LatchkeyClient {
  const client = createClient({ baseUrl, fetch: browser.fetch, readCookie: browser.readCookie, channelName: channel, ...extra });
  open.push(client);
  return client;
}

/** The code an authenticator app shows at the server's clock now (`steps` steps away). */
function codeFor(secret: string, steps = 0): string {
  return new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({
    timestamp: server.clock!() + steps * STEP,
  });
}

/** A 6-digit code that is none of the accepted ones (previous, current, next step). */
function wrongCode(secret: string): string {
  const accepted = new Set([codeFor(secret, -1), codeFor(secret), codeFor(secret, 1)]);
  for (let n = 0; ; n += 1) {
    const candidate = String(n).padStart(6, '0');
    if (!accepted.has(candidate)) return candidate;
  }
}

function claimsOf(jwt: string): { amr?: string[]; auth_time?: number } {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { amr?: string[] };
}

async function signUp(client: LatchkeyClient): Promise<string> {
  const email = newEmail();
  await client.register({ email, password: PASSWORD });
  expect(await client.login({ email, password: PASSWORD })).toMatchObject({ status: 'signed_in', user: { email } });
  return email;
}

/** Enrols and confirms TOTP through the SDK; the secret and the recovery codes. */
async function enrol(client: LatchkeyClient): Promise<{ secret: string; recoveryCodes: string[] }> {
  const enrollment = await client.enrollTotp();
  const confirmed = await client.confirmTotp(codeFor(enrollment.secret));
  return { secret: enrollment.secret, recoveryCodes: confirmed.recovery_codes };
}

async function challenge(client: LatchkeyClient, email: string): Promise<MfaRequired> {
  const result = await client.login({ email, password: PASSWORD });
  expect(result.status).toBe('mfa_required');
  return result as MfaRequired;
}

/** navigator.credentials backed by the software authenticator: binary options in, credential objects out (no toJSON). */
function credentialsOf(authenticator: SoftwareAuthenticator): NonNullable<ClientOptions['credentials']> {
  const b64 = (b: BufferSource) => Buffer.from(b instanceof ArrayBuffer ? b : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)).toString('base64url');
  const buf = (text: string) => new Uint8Array(Buffer.from(text, 'base64url')).buffer;
  return {
    async create(options?: CredentialCreationOptions) {
      const o = options!.publicKey!;
      const json: CreationOptions = {
        challenge: b64(o.challenge),
        rp: { id: o.rp.id!, name: o.rp.name },
        user: { id: b64(o.user.id), name: o.user.name, displayName: o.user.displayName },
        excludeCredentials: (o.excludeCredentials ?? []).map((c) => ({ id: b64(c.id) })),
      };
      if (json.excludeCredentials!.some((c) => authenticator.credentials.has(c.id))) {
        throw new DOMException('The authenticator already holds one', 'InvalidStateError');
      }
      const made = authenticator.create(json);
      return {
        id: made.id,
        rawId: buf(made.rawId),
        type: 'public-key',
        authenticatorAttachment: 'platform',
        response: {
          clientDataJSON: buf(made.response.clientDataJSON),
          attestationObject: buf(made.response.attestationObject),
          getTransports: () => made.response.transports,
        },
        getClientExtensionResults: () => ({}),
      } as unknown as Credential;
    },
    async get(options?: CredentialRequestOptions) {
      const o = options!.publicKey!;
      const json: RequestOptions = { challenge: b64(o.challenge), rpId: o.rpId, allowCredentials: (o.allowCredentials ?? []).map((c) => ({ id: b64(c.id) })) };
      const a = authenticator.get(json);
      return {
        id: a.id,
        rawId: buf(a.rawId),
        type: 'public-key',
        authenticatorAttachment: 'platform',
        response: {
          clientDataJSON: buf(a.response.clientDataJSON),
          authenticatorData: buf(a.response.authenticatorData),
          signature: buf(a.response.signature),
          userHandle: a.response.userHandle ? buf(a.response.userHandle) : null,
        },
        getClientExtensionResults: () => ({}),
      } as unknown as Credential;
    },
  };
}

describe('TOTP, recovery codes and the login challenge', () => {
  it('enrol and confirm; login answers mfa_required and signs nothing in; a wrong or replayed code is refused; the right code signs in every tab', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const client = tab(browser, channel);
    const email = await signUp(client);

    const enrollment = await client.enrollTotp();
    expect(enrollment.factor).toMatchObject({ type: 'totp', status: 'pending' });
    expect(enrollment.qr_code).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(enrollment.otpauth_uri).toContain(`secret=${enrollment.secret}`);
    const wrong = await rejection(client.confirmTotp(wrongCode(enrollment.secret)));
    expect(wrong).toMatchObject({ code: 'INVALID_MFA_CODE', status: 400 });
    expect((await client.listFactors()).factors).toMatchObject([{ status: 'pending' }]);
    const usedCode = codeFor(enrollment.secret);
    const confirmed = await client.confirmTotp(usedCode);
    expect(confirmed.factor.status).toBe('active');
    expect(confirmed.recovery_codes).toHaveLength(10);
    expect(await client.listFactors()).toMatchObject({ factors: [{ type: 'totp', status: 'active' }], recovery_codes_left: 10 });
    expect(await rejection(client.enrollTotp())).toMatchObject({ code: 'FACTOR_ALREADY_ENROLLED', status: 409 });
    await client.logout();

    const other = tab(browser, channel);
    await other.restore();
    const otherEvents = recordEvents(other);
    const cookiesBefore = browser.cookie('lk_refresh');
    const mfa = await challenge(client, email);
    expect(mfa).toEqual({ status: 'mfa_required', mfaToken: expect.any(String), factors: ['totp', 'recovery_code'], expiresIn: 300 });
    expect(client.getState()).toMatchObject({ status: 'anonymous', user: null });
    expect(await client.getAccessToken()).toBeNull();
    expect(browser.cookie('lk_refresh')).toEqual(cookiesBefore); // no session cookie yet
    expect(browser.readCookie('lk_csrf')).toBeNull();

    expect(await rejection(client.verifyMfa({ mfaToken: mfa.mfaToken, code: wrongCode(enrollment.secret) }))).toMatchObject({
      code: 'INVALID_MFA_CODE',
      status: 400,
    });
    // The code that confirmed the factor was spent: the same step's code is refused.
    expect((await rejection(client.verifyMfa({ mfaToken: mfa.mfaToken, code: usedCode }))).code).toBe('INVALID_MFA_CODE');
    expect(client.getState().status).toBe('anonymous');
    expect(otherEvents).toEqual([]);

    server.clock!.advance(STEP);
    const user = await client.verifyMfa({ mfaToken: mfa.mfaToken, code: codeFor(enrollment.secret) });
    expect(user.email).toBe(email);
    expect(client.getState()).toMatchObject({ status: 'authenticated', user: { email } });
    await waitForState(other, (s) => s.status === 'authenticated');
    expect(otherEvents).toEqual(['signed_in']);
    expect(await other.getAccessToken()).toBe(await client.getAccessToken());
    expect(claimsOf((await client.getAccessToken())!).amr).toEqual(['pwd', 'otp', 'mfa']);
    // Cookie mode: the refresh token only in the HttpOnly cookie, and a reload restores the session.
    expect(browser.cookie('lk_refresh')).toMatchObject({ httpOnly: true, path: '/auth' });
    const reloaded = tab(browser, newChannel());
    expect((await reloaded.restore())?.email).toBe(email);

    // The mfa_token was spent by the verification that succeeded.
    server.clock!.advance(STEP);
    expect(await rejection(client.verifyMfa({ mfaToken: mfa.mfaToken, code: codeFor(enrollment.secret) }))).toMatchObject({
      code: 'MFA_TOKEN_INVALID',
      status: 400,
    });
    expect(client.getState()).toMatchObject({ status: 'authenticated', user: { email } });
  });

  it('a recovery code signs in once; regenerating needs a proof after STEP_UP_MAX_AGE (10 minutes) and replaces the set; removing the authenticator brings plain logins back', async () => {
    const client = tab(cookieJarBrowser(), newChannel());
    const email = await signUp(client);
    const { secret, recoveryCodes } = await enrol(client);
    await client.logout();

    const first = await challenge(client, email);
    // Case, spaces and dashes do not matter.
    expect((await client.verifyMfa({ mfaToken: first.mfaToken, recoveryCode: recoveryCodes[0]!.toLowerCase().replace(/-/g, ' ') })).email).toBe(email);
    expect((await client.listFactors()).recovery_codes_left).toBe(9);
    await client.logout();
    const second = await challenge(client, email);
    expect((await rejection(client.verifyMfa({ mfaToken: second.mfaToken, recoveryCode: recoveryCodes[0]! }))).code).toBe('INVALID_MFA_CODE');
    await client.verifyMfa({ mfaToken: second.mfaToken, recoveryCode: recoveryCodes[1]! });

    // Just signed in with the second factor: no proof needed.
    const fresh = await client.regenerateRecoveryCodes();
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(recoveryCodes[2]);
    server.clock!.advance(11 * 60_000);
    expect(await rejection(client.regenerateRecoveryCodes())).toMatchObject({ code: 'REAUTHENTICATION_REQUIRED', status: 403 });
    expect(await rejection(client.regenerateRecoveryCodes({ recoveryCode: recoveryCodes[2]! }))).toMatchObject({ code: 'INVALID_MFA_CODE' });
    const newest = await client.regenerateRecoveryCodes({ code: codeFor(secret) });
    expect((await client.listFactors()).recovery_codes_left).toBe(10);

    expect(await rejection(client.removeTotp())).toMatchObject({ code: 'REAUTHENTICATION_REQUIRED' });
    await client.removeTotp({ recoveryCode: newest[0]! });
    expect(await client.listFactors()).toEqual({ factors: [], recovery_codes_left: 0 });
    await client.logout();
    expect(await client.login({ email, password: PASSWORD })).toMatchObject({ status: 'signed_in', user: { email } });
  });

  it('a wrong password is still an error, not a challenge', async () => {
    const client = tab(cookieJarBrowser(), newChannel());
    const email = await signUp(client);
    await enrol(client);
    await client.logout();
    expect(await rejection(client.login({ email, password: 'not the password' }))).toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(client.getState().status).toBe('anonymous');
  });
});

describe('passkeys', () => {
  it('register, list, rename; sign in with the passkey alone (every tab); remove it; an unknown passkey is refused', async () => {
    const authenticator = new SoftwareAuthenticator({ origin: ORIGIN, userVerification: true });
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const client = tab(browser, channel, { credentials: credentialsOf(authenticator) });
    const email = await signUp(client);

    const passkey = await client.registerPasskey('  Work laptop ');
    expect(passkey).toMatchObject({ name: 'Work laptop', device_type: 'singleDevice', transports: ['internal', 'hybrid'] });
    // The authenticator already holds one of the account's passkeys (excludeCredentials).
    expect(await rejection(client.registerPasskey())).toMatchObject({ code: 'PASSKEY_ALREADY_REGISTERED', status: 0 });
    expect(await client.renamePasskey(passkey.id, 'Desk')).toMatchObject({ id: passkey.id, name: 'Desk' });
    expect((await client.listPasskeys()).map((p) => p.name)).toEqual(['Desk']);
    await client.logout();

    const other = tab(browser, channel);
    await other.restore();
    const user = await client.signInWithPasskey();
    expect(user.email).toBe(email);
    await waitForState(other, (s) => s.status === 'authenticated' && s.user?.email === email);
    expect(claimsOf((await client.getAccessToken())!).amr).toEqual(['hwk', 'mfa']);
    expect((await client.listPasskeys())[0]!.last_used_at).not.toBeNull();

    // Signed in with a user-verifying passkey just now: removal needs no further proof.
    await client.removePasskey(passkey.id);
    expect(await client.listPasskeys()).toEqual([]);
    await client.logout();
    // The device is told to forget it (WebAuthn's signal API, where the browser has it).
    const signals: unknown[] = [];
    const globals = globalThis as { PublicKeyCredential?: unknown };
    globals.PublicKeyCredential = { signalUnknownCredential: async (o: unknown) => void signals.push(o) };
    try {
      expect(await rejection(client.signInWithPasskey())).toMatchObject({ code: 'PASSKEY_UNKNOWN', status: 400 });
    } finally {
      delete globals.PublicKeyCredential;
    }
    expect(signals).toEqual([{ rpId: 'latchkey.test', credentialId: [...authenticator.credentials.keys()][0] }]);
    expect(client.getState().status).toBe('anonymous');
  });

  it('a passkey answers the second factor of a password login', async () => {
    const authenticator = new SoftwareAuthenticator({ origin: ORIGIN, userVerification: false });
    const client = tab(cookieJarBrowser(), newChannel(), { credentials: credentialsOf(authenticator) });
    const email = await signUp(client);
    await enrol(client);
    await client.registerPasskey();
    await client.logout();
    // Without user verification it is one factor: not enough alone for an account with TOTP.
    expect((await rejection(client.signInWithPasskey())).code).toBe('PASSKEY_USER_VERIFICATION_REQUIRED');

    const mfa = await challenge(client, email);
    expect(mfa.factors).toEqual(['totp', 'recovery_code', 'passkey']);
    expect((await client.verifyMfa({ mfaToken: mfa.mfaToken, passkey: true })).email).toBe(email);
    expect(claimsOf((await client.getAccessToken())!).amr).toEqual(['pwd', 'hwk', 'mfa']);
  });

  it('a dismissed dialog is PASSKEY_CANCELLED; no WebAuthn is PASSKEYS_UNSUPPORTED; neither asks the server to verify', async () => {
    const browser = cookieJarBrowser();
    const cancelling = tab(browser, newChannel(), {
      credentials: {
        create: () => Promise.reject(new DOMException('The operation either timed out or was not allowed.', 'NotAllowedError')),
        get: () => Promise.reject(new DOMException('The operation either timed out or was not allowed.', 'NotAllowedError')),
      },
    });
    await signUp(cancelling);
    expect(await rejection(cancelling.registerPasskey())).toMatchObject({ code: 'PASSKEY_CANCELLED', status: 0 });
    await cancelling.logout();
    expect(await rejection(cancelling.signInWithPasskey())).toMatchObject({ code: 'PASSKEY_CANCELLED', status: 0 });
    const none = tab(browser, newChannel()); // Node: no navigator.credentials
    expect(await rejection(none.signInWithPasskey())).toMatchObject({ code: 'PASSKEYS_UNSUPPORTED', status: 0 });
    expect(browser.count('POST', '/auth/passkeys/login/verify') + browser.count('POST', '/auth/passkeys/register/verify')).toBe(0);
  });
});

describe('step-up', () => {
  it('an old session is asked to confirm (ReauthenticationRequiredError: max_age, methods); reauthenticate, and every tab gets the new token', async () => {
    const authenticator = new SoftwareAuthenticator({ origin: ORIGIN });
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const client = tab(browser, channel, { credentials: credentialsOf(authenticator) });
    await signUp(client);
    const passkey = await client.registerPasskey();
    const other = tab(browser, channel);
    await other.restore();
    server.clock!.advance(11 * 60_000);

    const refused = await rejection(client.removePasskey(passkey.id));
    expect(refused).toBeInstanceOf(ReauthenticationRequiredError);
    expect(refused).toMatchObject({ code: 'REAUTHENTICATION_REQUIRED', status: 403, maxAge: 600, methods: ['password', 'passkey'] });
    // A wrong password is an ordinary error; nothing changes.
    expect((await rejection(client.reauthenticate({ password: 'not the password' }))).code).toBe('INVALID_CREDENTIALS');
    expect((await rejection(client.reauthenticate({ code: '123456' }))).code).toBe('REAUTHENTICATION_METHOD_UNAVAILABLE');

    await client.reauthenticate({ password: PASSWORD });
    const fresh = claimsOf((await client.getAccessToken())!);
    expect(fresh.auth_time).toBe(Math.floor(server.clock!() / 1000));
    // Shared like a refresh: the other tab holds the same new token, and no refresh of its own ran.
    await vi.waitFor(async () => expect(await other.getAccessToken()).toBe(await client.getAccessToken()));
    await other.removePasskey(passkey.id);
    expect(await client.listPasskeys()).toEqual([]);
    expect(client.getState().status).toBe('authenticated');
    expect(other.getState().status).toBe('authenticated');
  });

  it('an account with a second factor: a passkey or a code confirms it; change password takes a code instead', async () => {
    const authenticator = new SoftwareAuthenticator({ origin: ORIGIN, synced: true, counter: false });
    const client = tab(cookieJarBrowser(), newChannel(), { credentials: credentialsOf(authenticator) });
    const email = await signUp(client);
    const { secret } = await enrol(client);
    await client.registerPasskey();
    server.clock!.advance(11 * 60_000);

    const refused = await rejection(client.regenerateRecoveryCodes());
    expect(refused).toMatchObject({ maxAge: 600, methods: ['code', 'recovery_code', 'passkey'] });
    expect((await rejection(client.reauthenticate({ password: PASSWORD }))).code).toBe('REAUTHENTICATION_METHOD_UNAVAILABLE');
    await client.reauthenticateWithPasskey();
    expect(claimsOf((await client.getAccessToken())!).amr).toEqual(['pwd', 'swk', 'mfa']);
    expect(await client.regenerateRecoveryCodes()).toHaveLength(10);

    server.clock!.advance(11 * 60_000);
    const change = { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' };
    expect(await rejection(client.changePassword(change))).toBeInstanceOf(ReauthenticationRequiredError);
    await client.changePassword({ ...change, proof: { code: codeFor(secret) } });
    await client.logout();
    expect((await client.login({ email, password: 'a brand new passphrase' })).status).toBe('mfa_required');
  });
});

describe('a role that requires a second factor (MFA_REQUIRED_ROLES)', () => {
  let policyServer: TestApp;
  let policyUrl: string;
  beforeAll(async () => {
    policyServer = await createTestApp(
      { COOKIE_SECURE: 'false', LOG_LEVEL: 'silent', RATE_LIMIT_LOGIN: '1000/1m', MFA_REQUIRED_ROLES: 'ops' },
      { clock: server.clock },
    );
    await policyServer.app.listen({ host: '127.0.0.1', port: 0 });
    policyUrl = `http://127.0.0.1:${(policyServer.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await policyServer.close();
  });

  function policyTab(browser: CookieJarBrowser, channel: string, extra: Partial<ClientOptions> = {}): LatchkeyClient {
    const client = createClient({ baseUrl: policyUrl, fetch: browser.fetch, readCookie: browser.readCookie, channelName: channel, ...extra });
    open.push(client);
    return client;
  }

  /** A user with the `ops` role (given in the store, as an admin would); nobody signed in. */
  async function opsUser(client: LatchkeyClient): Promise<string> {
    const email = newEmail();
    const user = await client.register({ email, password: PASSWORD });
    await policyServer.app.latchkey.store.updateUser(user.id, { roles: ['ops'] }, policyServer.clock!());
    return email;
  }

  it('login answers mfa_enrollment_required (nobody signed in); enrolling an authenticator signs in every tab and answers the recovery codes once', async () => {
    const browser = cookieJarBrowser();
    const channel = newChannel();
    const client = policyTab(browser, channel);
    const other = policyTab(browser, channel);
    await other.restore();
    const email = await opsUser(client);

    const result = await client.login({ email, password: PASSWORD });
    expect(result).toMatchObject({ status: 'mfa_enrollment_required', expiresIn: 300 });
    if (result.status !== 'mfa_enrollment_required') throw new Error('unreachable');
    expect(client.getState().status).not.toBe('authenticated');
    expect(browser.readCookie('lk_csrf')).toBeNull();

    const enrollment = await client.startTotpEnrollmentToSignIn(result.mfaToken);
    expect(enrollment.qr_code).toMatch(/^data:image\/svg\+xml;base64,/);
    expect((await rejection(client.confirmTotpEnrollmentToSignIn(result.mfaToken, wrongCode(enrollment.secret)))).code).toBe('INVALID_MFA_CODE');
    expect(client.getState().status).not.toBe('authenticated');

    const done = await client.confirmTotpEnrollmentToSignIn(result.mfaToken, codeFor(enrollment.secret));
    expect(done.user.email).toBe(email);
    expect(done.recoveryCodes).toHaveLength(10);
    expect(claimsOf((await client.getAccessToken())!).amr).toEqual(['pwd', 'otp', 'mfa']);
    await waitForState(other, (s) => s.status === 'authenticated' && s.user?.email === email);
    // The token was spent.
    expect((await rejection(client.startTotpEnrollmentToSignIn(result.mfaToken))).code).toBe('MFA_TOKEN_INVALID');

    await client.logout();
    expect((await client.login({ email, password: PASSWORD })).status).toBe('mfa_required');
  });

  it('enrolling a passkey at sign-in signs in; the last factor cannot be removed (FACTOR_REQUIRED_BY_POLICY)', async () => {
    const authenticator = new SoftwareAuthenticator({ origin: ORIGIN, userVerification: true });
    const client = policyTab(cookieJarBrowser(), newChannel(), { credentials: credentialsOf(authenticator) });
    const email = await opsUser(client);
    const result = await client.login({ email, password: PASSWORD });
    if (result.status !== 'mfa_enrollment_required') throw new Error(`expected an enrolment, got ${result.status}`);

    const { user, passkey } = await client.enrollPasskeyToSignIn(result.mfaToken, ' Laptop ');
    expect(user.email).toBe(email);
    expect(passkey).toMatchObject({ name: 'Laptop', device_type: 'singleDevice' });
    expect(client.getState()).toMatchObject({ status: 'authenticated', user: { email } });
    expect(claimsOf((await client.getAccessToken())!).amr).toEqual(['pwd', 'hwk', 'mfa']);
    expect((await rejection(client.removePasskey(passkey.id))).code).toBe('FACTOR_REQUIRED_BY_POLICY');
  });
});

/**
 * navigator.credentials as a browser behaves with conditional mediation: a conditional get() stays
 * pending until the user picks a passkey (`pick()`) or its signal aborts it (AbortError); a modal
 * get() is answered at once by the authenticator; and, as in Chrome, a second request while one
 * is pending is refused with OperationError "A request is already pending".
 */
function conditionalBrowser(authenticator: SoftwareAuthenticator) {
  const inner = credentialsOf(authenticator);
  const requests: { mediation: string; challenge: string; outcome: 'pending' | 'picked' | 'aborted' | 'answered' | 'refused' }[] = [];
  let pending: { pick(): void } | null = null;
  let waiting: (() => void)[] = [];
  const credentials: NonNullable<ClientOptions['credentials']> = {
    create: inner.create,
    get(options?: CredentialRequestOptions) {
      const o = options!.publicKey!;
      const entry = {
        mediation: options!.mediation ?? 'optional',
        challenge: Buffer.from(o.challenge as ArrayBuffer).toString('base64url'),
        outcome: 'pending' as (typeof requests)[number]['outcome'],
      };
      requests.push(entry);
      if (pending) {
        entry.outcome = 'refused';
        return Promise.reject(new DOMException('A request is already pending.', 'OperationError'));
      }
      if (options!.mediation !== 'conditional') {
        entry.outcome = 'answered';
        return inner.get(options);
      }
      return new Promise<Credential | null>((resolve, reject) => {
        const settle = () => {
          pending = null;
          options!.signal?.removeEventListener('abort', onAbort);
        };
        const onAbort = () => {
          settle();
          entry.outcome = 'aborted';
          reject(new DOMException('signal is aborted without reason', 'AbortError'));
        };
        options!.signal?.addEventListener('abort', onAbort);
        pending = {
          pick() {
            settle();
            entry.outcome = 'picked';
            resolve(inner.get(options));
          },
        };
        for (const wake of waiting.splice(0)) wake();
      });
    },
  };
  return {
    credentials,
    requests,
    /** Resolves when a conditional request is pending (the autofill is offering passkeys). */
    async offering(count = 1): Promise<void> {
      while (!(pending && requests.filter((r) => r.mediation === 'conditional').length >= count)) {
        await new Promise<void>((wake) => waiting.push(wake));
      }
    },
    /** The user picks the passkey from the autofill. */
    pick() {
      if (!pending) throw new Error('no conditional request is pending');
      pending.pick();
    },
  };
}

describe('passkey autofill (conditional mediation)', () => {
  const globals = globalThis as { PublicKeyCredential?: unknown };
  let conditional = true;
  beforeEach(() => {
    conditional = true;
    globals.PublicKeyCredential = { isConditionalMediationAvailable: async () => conditional };
  });
  afterEach(() => {
    delete globals.PublicKeyCredential;
  });

  /** An account with a user-verifying passkey, signed out; a client whose WebAuthn is `browser`. */
  async function accountWithPasskey(browserLike: ReturnType<typeof conditionalBrowser>, jar = cookieJarBrowser()) {
    const client = tab(jar, newChannel(), { credentials: browserLike.credentials });
    const email = await signUp(client);
    await client.registerPasskey();
    await client.logout();
    return { client, email, jar };
  }

  it('a passkey picked from the autofill signs in: one conditional request, verified, amr of the passkey', async () => {
    const browserLike = conditionalBrowser(new SoftwareAuthenticator({ origin: ORIGIN, userVerification: true }));
    const { client, email, jar } = await accountWithPasskey(browserLike);
    const autofill = client.signInWithPasskeyAutofill();
    await browserLike.offering();
    expect(client.getState().status).toBe('anonymous');
    expect(jar.count('POST', '/auth/passkeys/login/verify')).toBe(0);
    browserLike.pick();
    expect((await autofill)?.email).toBe(email);
    expect(client.getState()).toMatchObject({ status: 'authenticated', user: { email } });
    expect(claimsOf((await client.getAccessToken())!).amr).toEqual(['hwk', 'mfa']);
    expect(browserLike.requests.filter((r) => r.mediation === 'conditional').map((r) => r.outcome)).toEqual(['picked']);
  });

  it('a modal passkey sign-in takes over: the pending request is aborted first (never "already pending"), the autofill ends with null', async () => {
    const browserLike = conditionalBrowser(new SoftwareAuthenticator({ origin: ORIGIN, userVerification: true }));
    const { client, email } = await accountWithPasskey(browserLike);
    const autofill = client.signInWithPasskeyAutofill();
    await browserLike.offering();
    expect((await client.signInWithPasskey()).email).toBe(email);
    expect(await autofill).toBeNull();
    expect(browserLike.requests.slice(-2).map((r) => `${r.mediation} ${r.outcome}`)).toEqual(['conditional aborted', 'optional answered']);
  });

  it('after a modal request that was dismissed, the autofill offers the passkeys again, with a new challenge', async () => {
    const browserLike = conditionalBrowser(new SoftwareAuthenticator({ origin: ORIGIN, userVerification: true }));
    const { client, email } = await accountWithPasskey(browserLike);
    const autofill = client.signInWithPasskeyAutofill();
    await browserLike.offering();
    // The user opens the passkey dialog and dismisses it.
    const realGet = browserLike.credentials.get;
    browserLike.credentials.get = (o) => (o?.mediation === 'conditional' ? realGet(o) : Promise.reject(new DOMException('dismissed', 'NotAllowedError')));
    expect((await rejection(client.signInWithPasskey())).code).toBe('PASSKEY_CANCELLED');
    browserLike.credentials.get = realGet;
    await browserLike.offering(2);
    const [first, second] = browserLike.requests.filter((r) => r.mediation === 'conditional');
    expect(first!.outcome).toBe('aborted');
    expect(second!.challenge).not.toBe(first!.challenge);
    browserLike.pick();
    expect((await autofill)?.email).toBe(email);
  });

  it('a password sign-in takes over: the pending request is aborted, the autofill ends with null, nothing else is signed in', async () => {
    const browserLike = conditionalBrowser(new SoftwareAuthenticator({ origin: ORIGIN, userVerification: true }));
    const { client, email, jar } = await accountWithPasskey(browserLike);
    const autofill = client.signInWithPasskeyAutofill();
    await browserLike.offering();
    expect(await client.login({ email, password: PASSWORD })).toMatchObject({ status: 'signed_in' });
    expect(await autofill).toBeNull();
    expect(browserLike.requests.at(-1)).toMatchObject({ mediation: 'conditional', outcome: 'aborted' });
    expect(jar.count('POST', '/auth/passkeys/login/verify')).toBe(0);
  });

  it('the caller’s signal stops it (null, the request aborted); without conditional mediation it resolves null and asks the server nothing', async () => {
    const browserLike = conditionalBrowser(new SoftwareAuthenticator({ origin: ORIGIN, userVerification: true }));
    const { client, jar } = await accountWithPasskey(browserLike);
    const stop = new AbortController();
    const autofill = client.signInWithPasskeyAutofill({ signal: stop.signal });
    await browserLike.offering();
    stop.abort();
    expect(await autofill).toBeNull();
    expect(browserLike.requests.at(-1)).toMatchObject({ mediation: 'conditional', outcome: 'aborted' });

    conditional = false;
    const options = jar.count('POST', '/auth/passkeys/login/options');
    expect(await client.signInWithPasskeyAutofill()).toBeNull();
    expect(jar.count('POST', '/auth/passkeys/login/options')).toBe(options);
  });

  it('a request left pending is started again, with a fresh challenge, before its challenge expires', async () => {
    const browserLike = conditionalBrowser(new SoftwareAuthenticator({ origin: ORIGIN, userVerification: true }));
    // The server's options, with a 2-second timeout instead of 5 minutes (the challenge's life).
    const jar = cookieJarBrowser();
    const shortLived: CookieJarBrowser = {
      ...jar,
      async fetch(input, init) {
        const response = await jar.fetch(input, init);
        if (!String(input).endsWith('/auth/passkeys/login/options')) return response;
        const body = (await response.json()) as { options: Record<string, unknown> };
        return Response.json({ options: { ...body.options, timeout: 2_000 } }, { status: response.status });
      },
    };
    const { client, email } = await accountWithPasskey(browserLike, shortLived);
    const autofill = client.signInWithPasskeyAutofill();
    await browserLike.offering(2);
    const [first, second] = browserLike.requests.filter((r) => r.mediation === 'conditional');
    expect(first!.outcome).toBe('aborted');
    expect(second!.challenge).not.toBe(first!.challenge);
    browserLike.pick();
    expect((await autofill)?.email).toBe(email);
  });

  it('a picked passkey the server does not hold rejects with PASSKEY_UNKNOWN (to show); nobody is signed in', async () => {
    const authenticator = new SoftwareAuthenticator({ origin: ORIGIN, userVerification: true });
    const browserLike = conditionalBrowser(authenticator);
    const { client } = await accountWithPasskey(browserLike);
    // Removed on the server (signed in with it just now: no proof needed); the device still holds it.
    await client.signInWithPasskey();
    await client.removePasskey((await client.listPasskeys())[0]!.id);
    await client.logout();
    const autofill = client.signInWithPasskeyAutofill();
    await browserLike.offering();
    browserLike.pick();
    expect(await rejection(autofill)).toMatchObject({ code: 'PASSKEY_UNKNOWN', status: 400 });
    expect(client.getState().status).toBe('anonymous');
  });
});
