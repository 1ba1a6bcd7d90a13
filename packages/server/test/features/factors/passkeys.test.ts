/**
 * Passkeys over HTTP, with real WebAuthn responses from a software authenticator
 * (test/support/webauthn-authenticator.ts: ES256 keys, authenticatorData, clientDataJSON,
 * attestation fmt 'none'), verified end to end by the server's library. Registration, list,
 * rename, removal under the proof rule; a sign-in with a passkey alone; a passkey as the second
 * factor of a password login; and every refusal (origin, RP ID, replayed or expired challenge,
 * another user's or an unknown credential, a counter that went back, a bad shape) a clear 4xx
 * that creates no session.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { enrolTotp, mfaToken, payloadOf, STEP, verify } from '../../support/factors.js';
import { expectProblem, setCookies } from '../../support/sessions.js';
import { SoftwareAuthenticator, type CreationOptions, type RequestOptions, type Tamper } from '../../support/webauthn-authenticator.js';

const ORIGIN = 'http://latchkey.test';

type Inject = Awaited<ReturnType<FastifyInstance['inject']>>;

describe('passkeys', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({}, { clock: true });
  });
  afterAll(async () => {
    await t.close();
  });

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}): Promise<Inject> =>
    t.app.inject({ method: 'POST', url, payload: payload as object, headers });

  async function registerPasskey(access: string, authenticator: SoftwareAuthenticator, name?: string, tamper: Tamper = {}): Promise<Inject> {
    const opts = await post('/auth/passkeys/register/options', {}, bearer(access));
    expect(opts.statusCode, opts.body).toBe(200);
    const response = authenticator.create(opts.json().options as CreationOptions, tamper);
    return post('/auth/passkeys/register/verify', name === undefined ? { response } : { response, name }, bearer(access));
  }

  /** A user with one passkey on a new authenticator. */
  async function passkeyUser(auth: Partial<ConstructorParameters<typeof SoftwareAuthenticator>[0]> = {}) {
    const u = await registerAndLogin(t.app);
    const authenticator = new SoftwareAuthenticator({ origin: ORIGIN, ...auth });
    const res = await registerPasskey(u.access, authenticator);
    expect(res.statusCode, res.body).toBe(201);
    return { ...u, authenticator, passkeyId: res.json().passkey.id as string };
  }

  async function loginOptions(): Promise<RequestOptions> {
    const res = await post('/auth/passkeys/login/options', {});
    expect(res.statusCode, res.body).toBe(200);
    return res.json().options as RequestOptions;
  }

  async function sessionsOf(userId: string): Promise<number> {
    return (await t.app.latchkey.store.listSessions(userId, t.clock!())).length;
  }

  async function eventTypes(userId: string): Promise<string[]> {
    return (await t.app.latchkey.store.listEvents(userId, 50)).map((e) => e.type);
  }

  it('registers two passkeys, lists, renames and removes them', async () => {
    const u = await registerAndLogin(t.app);
    const phone = new SoftwareAuthenticator({ origin: ORIGIN, synced: true, counter: false });
    const key = new SoftwareAuthenticator({ origin: ORIGIN });

    const opts = await post('/auth/passkeys/register/options', {}, bearer(u.access));
    expect(opts.statusCode, opts.body).toBe(200);
    const options = opts.json().options;
    expect(options).toMatchObject({
      rp: { id: 'latchkey.test', name: 'Latchkey' },
      user: { name: u.email },
      attestation: 'none',
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
      excludeCredentials: [],
    });
    expect(options.pubKeyCredParams).toContainEqual({ alg: -7, type: 'public-key' });
    const first = await post('/auth/passkeys/register/verify', { response: phone.create(options), name: 'Phone' }, bearer(u.access));
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json().passkey).toMatchObject({ name: 'Phone', device_type: 'multiDevice', backed_up: true, last_used_at: null });
    expect(first.body).not.toMatch(/public_?key/i);

    t.clock!.advance(1000);
    const again = await post('/auth/passkeys/register/options', {}, bearer(u.access));
    expect(again.json().options.excludeCredentials).toEqual([{ id: [...phone.credentials.keys()][0], type: 'public-key', transports: ['internal', 'hybrid'] }]);
    const second = await post('/auth/passkeys/register/verify', { response: key.create(again.json().options) }, bearer(u.access));
    expect(second.statusCode, second.body).toBe(201);
    expect(second.json().passkey).toMatchObject({ name: 'Passkey', device_type: 'singleDevice', backed_up: false });

    const list = await t.app.inject({ method: 'GET', url: '/auth/passkeys', headers: bearer(u.access) });
    expect(list.statusCode).toBe(200);
    expect(list.json().passkeys.map((p: { name: string }) => p.name)).toEqual(['Phone', 'Passkey']);

    const id = second.json().passkey.id as string;
    const blank = await t.app.inject({ method: 'PATCH', url: `/auth/passkeys/${id}`, payload: { name: '   ' }, headers: bearer(u.access) });
    expectProblem(blank, 422, 'VALIDATION_FAILED');
    const renamed = await t.app.inject({ method: 'PATCH', url: `/auth/passkeys/${id}`, payload: { name: ' Desk key ' }, headers: bearer(u.access) });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json().passkey).toMatchObject({ id, name: 'Desk key' });

    // Removal needs a recent authentication (STEP_UP_MAX_AGE, 10 minutes): this session's is older.
    t.clock!.advance(10 * 60_000 + 1000);
    const refused = await t.app.inject({ method: 'DELETE', url: `/auth/passkeys/${id}`, headers: bearer(u.access) });
    expectProblem(refused, 403, 'REAUTHENTICATION_REQUIRED');
    const signedIn = await post('/auth/passkeys/login/verify', { response: key.get(await loginOptions()) });
    expect(signedIn.statusCode, signedIn.body).toBe(200);
    const removed = await t.app.inject({ method: 'DELETE', url: `/auth/passkeys/${id}`, headers: bearer(signedIn.json().access_token) });
    expect(removed.statusCode, removed.body).toBe(204);
    const gone = await t.app.inject({ method: 'DELETE', url: `/auth/passkeys/${id}`, headers: bearer(signedIn.json().access_token) });
    expectProblem(gone, 404, 'NOT_FOUND');
    // Not another user's to rename.
    const other = await registerAndLogin(t.app);
    const foreign = await t.app.inject({ method: 'PATCH', url: `/auth/passkeys/${first.json().passkey.id}`, payload: { name: 'x' }, headers: bearer(other.access) });
    expectProblem(foreign, 404, 'NOT_FOUND');

    const left = await t.app.inject({ method: 'GET', url: '/auth/passkeys', headers: bearer(u.access) });
    expect(left.json().passkeys.map((p: { name: string }) => p.name)).toEqual(['Phone']);
    expect(await eventTypes(u.userId)).toEqual(expect.arrayContaining(['passkey_added', 'passkey_renamed', 'passkey_removed', 'passkey_used']));
  });

  it('signs in with a passkey alone: tokens as login gives them, amr hwk/swk + mfa, the counter recorded', async () => {
    const u = await passkeyUser();
    t.clock!.advance(1000);
    const withoutHandle = u.authenticator.get(await loginOptions());
    const res = await post('/auth/passkeys/login/verify', { response: { ...withoutHandle, response: { ...withoutHandle.response, userHandle: null } } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const claims = payloadOf(res.json().access_token as string);
    expect(claims.sub).toBe(u.userId);
    expect(claims.amr).toEqual(['hwk', 'mfa']);
    expect(claims.auth_time).toBe(Math.floor(t.clock!() / 1000));
    expect(res.json().refresh_token).toEqual(expect.any(String));
    const [stored] = await t.app.latchkey.store.listPasskeys(u.userId);
    expect(stored).toMatchObject({ counter: 1, lastUsedAt: t.clock!() });

    // A synced passkey that keeps no counter (0 each time), without user verification.
    const synced = await passkeyUser({ synced: true, counter: false, userVerification: false });
    for (let i = 0; i < 2; i++) {
      const again = await post('/auth/passkeys/login/verify', { response: synced.authenticator.get(await loginOptions()) });
      expect(again.statusCode, again.body).toBe(200);
      expect(payloadOf(again.json().access_token as string).amr).toEqual(['swk']);
    }
    const events = await t.app.latchkey.store.listEvents(synced.userId, 20);
    expect(events.map((e) => [e.type, e.detail])).toContainEqual(['login_succeeded', expect.objectContaining({ method: 'passkey' })]);
  });

  it('signs in with a passkey in cookie mode', async () => {
    const u = await passkeyUser();
    const res = await post('/auth/passkeys/login/verify', { response: u.authenticator.get(await loginOptions()) }, { 'x-auth-mode': 'cookie' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().refresh_token).toBeUndefined();
    expect(Object.keys(setCookies(res))).toEqual(expect.arrayContaining(['lk_refresh', 'lk_csrf']));
  });

  it('answers a password login’s second factor with a passkey', async () => {
    const u = await passkeyUser();
    await enrolTotp(t.app, u.access);
    t.clock!.advance(STEP);
    const login = await post('/auth/login', { email: u.email, password: u.password });
    expect(login.json()).toMatchObject({ mfa_required: true, factors: ['totp', 'recovery_code', 'passkey'] });
    const token = login.json().mfa_token as string;

    const opts = await post('/auth/mfa/passkey/options', { mfa_token: token });
    expect(opts.statusCode, opts.body).toBe(200);
    const options = opts.json().options as RequestOptions;
    expect(options.allowCredentials?.map((c) => c.id)).toEqual([...u.authenticator.credentials.keys()]);
    const res = await verify(t.app, { mfa_token: token, passkey: u.authenticator.get(options) } as never);
    expect(res.statusCode, res.body).toBe(200);
    expect(payloadOf(res.json().access_token as string).amr).toEqual(['pwd', 'hwk', 'mfa']);
    const events = await t.app.latchkey.store.listEvents(u.userId, 20);
    expect(events.map((e) => [e.type, e.detail])).toContainEqual(['login_succeeded', expect.objectContaining({ second_factor: 'passkey' })]);
    // The mfa_token is spent.
    expectProblem(await post('/auth/mfa/passkey/options', { mfa_token: token }), 400, 'MFA_TOKEN_INVALID');

    // A passkey sign-in of this account (it has a second factor) needs user verification.
    const noUv = await post('/auth/passkeys/login/verify', { response: u.authenticator.get(await loginOptions(), { userVerification: false }) });
    expectProblem(noUv, 400, 'PASSKEY_USER_VERIFICATION_REQUIRED');
    expect(noUv.json().error).toBe('invalid_grant');
  });

  it('refuses another user’s passkey as the second factor; the mfa_token stays usable', async () => {
    const u = await passkeyUser();
    await enrolTotp(t.app, u.access);
    const mallory = await passkeyUser();
    t.clock!.advance(STEP);
    const token = await mfaToken(t.app, u.email);
    const options = (await post('/auth/mfa/passkey/options', { mfa_token: token })).json().options as RequestOptions;
    const sessions = await sessionsOf(u.userId);
    const res = await verify(t.app, { mfa_token: token, passkey: mallory.authenticator.get(options, { credentialId: [...mallory.authenticator.credentials.keys()][0] }) } as never);
    expectProblem(res, 400, 'PASSKEY_UNKNOWN');
    expect(await sessionsOf(u.userId)).toBe(sessions);
    const ok = await verify(t.app, { mfa_token: token, passkey: u.authenticator.get(options) } as never);
    expect(ok.statusCode, ok.body).toBe(200);
  });

  describe('refusals create nothing', () => {
    async function refusedLogin(u: Awaited<ReturnType<typeof passkeyUser>>, response: unknown, status: number, code: string): Promise<Inject> {
      const before = await sessionsOf(u.userId);
      const res = await post('/auth/passkeys/login/verify', { response });
      expectProblem(res, status, code);
      expect(res.body).not.toMatch(/access_token|refresh_token/);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(await sessionsOf(u.userId)).toBe(before);
      return res;
    }

    it('a response from another origin', async () => {
      const u = await passkeyUser();
      const res = await refusedLogin(u, u.authenticator.get(await loginOptions(), { origin: 'https://evil.example' }), 400, 'PASSKEY_INVALID');
      expect(res.json().detail).toMatch(/origin/);
      expect(res.body).not.toContain('evil.example');
    });

    it('a response for another RP ID', async () => {
      const u = await passkeyUser();
      const res = await refusedLogin(u, u.authenticator.get(await loginOptions(), { rpId: 'evil.example' }), 400, 'PASSKEY_INVALID');
      expect(res.json().detail).toMatch(/relying party/);
    });

    it('a replayed challenge (the same response twice), and two uses at once: exactly one wins', async () => {
      const u = await passkeyUser();
      const response = u.authenticator.get(await loginOptions());
      const first = await post('/auth/passkeys/login/verify', { response });
      expect(first.statusCode, first.body).toBe(200);
      await refusedLogin(u, response, 400, 'PASSKEY_CHALLENGE_INVALID');

      const racing = u.authenticator.get(await loginOptions());
      const both = await Promise.all([post('/auth/passkeys/login/verify', { response: racing }), post('/auth/passkeys/login/verify', { response: racing })]);
      expect(both.map((r) => r.statusCode).sort()).toEqual([200, 400]);
      expect(both.find((r) => r.statusCode === 400)!.json().code).toBe('PASSKEY_CHALLENGE_INVALID');
    });

    it('a challenge of another ceremony, or one the server never issued', async () => {
      const u = await passkeyUser();
      const registration = (await post('/auth/passkeys/register/options', {}, bearer(u.access))).json().options as CreationOptions;
      await refusedLogin(u, u.authenticator.get({ challenge: registration.challenge }), 400, 'PASSKEY_CHALLENGE_INVALID');
      await refusedLogin(u, u.authenticator.get({ challenge: 'bm90LWlzc3VlZC1ieS10aGUtc2VydmVy' }), 400, 'PASSKEY_CHALLENGE_INVALID');
    });

    it('an expired challenge', async () => {
      const u = await passkeyUser();
      const options = await loginOptions();
      t.clock!.advance(5 * 60_000 + 1);
      await refusedLogin(u, u.authenticator.get(options), 400, 'PASSKEY_CHALLENGE_INVALID');
    });

    it('a signature counter that went back: refused and recorded', async () => {
      const u = await passkeyUser();
      const ok = await post('/auth/passkeys/login/verify', { response: u.authenticator.get(await loginOptions(), { counter: 5 }) });
      expect(ok.statusCode, ok.body).toBe(200);
      await refusedLogin(u, u.authenticator.get(await loginOptions(), { counter: 5 }), 400, 'PASSKEY_COUNTER_REGRESSION');
      await refusedLogin(u, u.authenticator.get(await loginOptions(), { counter: 3 }), 400, 'PASSKEY_COUNTER_REGRESSION');
      expect((await t.app.latchkey.store.listPasskeys(u.userId))[0]!.counter).toBe(5);
      const events = await t.app.latchkey.store.listEvents(u.userId, 20);
      expect(events.filter((e) => e.type === 'passkey_counter_regression').map((e) => e.detail)).toContainEqual(
        expect.objectContaining({ stored_counter: 5, received_counter: 3 }),
      );
    });

    it('an unknown credential, and a tampered signature', async () => {
      const u = await passkeyUser();
      const stranger = new SoftwareAuthenticator({ origin: ORIGIN });
      stranger.create({ challenge: 'x', rp: { id: 'latchkey.test', name: 'x' }, user: { id: 'dW5rbm93bg', name: 'x', displayName: 'x' } });
      await refusedLogin(u, stranger.get(await loginOptions()), 400, 'PASSKEY_UNKNOWN');
      const response = u.authenticator.get(await loginOptions());
      const signature = Buffer.from(response.response.signature, 'base64url');
      signature[signature.length - 1] ^= 1;
      await refusedLogin(u, { ...response, response: { ...response.response, signature: signature.toString('base64url') } }, 400, 'PASSKEY_INVALID');
      // The user handle must be the passkey's account's.
      const other = u.authenticator.get(await loginOptions());
      await refusedLogin(u, { ...other, response: { ...other.response, userHandle: Buffer.from('someone-else').toString('base64url') } }, 400, 'PASSKEY_UNKNOWN');
    });

    it('a registration from another origin, a replayed one, an assertion in its place', async () => {
      const u = await registerAndLogin(t.app);
      const a = new SoftwareAuthenticator({ origin: ORIGIN });
      expectProblem(await registerPasskey(u.access, a, undefined, { origin: 'https://evil.example' }), 400, 'PASSKEY_INVALID');
      expectProblem(await registerPasskey(u.access, a, undefined, { rpId: 'evil.example' }), 400, 'PASSKEY_INVALID');
      const opts = (await post('/auth/passkeys/register/options', {}, bearer(u.access))).json().options as CreationOptions;
      const response = a.create(opts);
      expect((await post('/auth/passkeys/register/verify', { response }, bearer(u.access))).statusCode).toBe(201);
      expectProblem(await post('/auth/passkeys/register/verify', { response }, bearer(u.access)), 400, 'PASSKEY_CHALLENGE_INVALID');
      // Another user's registration challenge is not this user's.
      const other = await registerAndLogin(t.app);
      const theirs = (await post('/auth/passkeys/register/options', {}, bearer(other.access))).json().options as CreationOptions;
      expectProblem(await post('/auth/passkeys/register/verify', { response: a.create(theirs) }, bearer(u.access)), 400, 'PASSKEY_CHALLENGE_INVALID');
      expect((await t.app.latchkey.store.listPasskeys(u.userId)).length).toBe(1);
      expect(await t.app.latchkey.store.listPasskeys(other.userId)).toEqual([]);
    });

    it('bad shapes are 422, missing bodies too', async () => {
      const u = await registerAndLogin(t.app);
      const cases: Array<[string, unknown]> = [
        ['/auth/passkeys/login/verify', {}],
        ['/auth/passkeys/login/verify', { response: { id: 'a', rawId: 'a', type: 'public-key' } }],
        ['/auth/passkeys/login/verify', { response: { id: 'a b', rawId: 'a', type: 'public-key', response: { clientDataJSON: 'a', authenticatorData: 'a', signature: 'a' } } }],
        ['/auth/passkeys/login/verify', { response: 'x' }],
        ['/auth/mfa/passkey/options', {}],
        ['/auth/mfa/verify', { mfa_token: 'x', passkey: { id: 1 } }],
      ];
      for (const [url, payload] of cases) expectProblem(await post(url, payload), 422, 'VALIDATION_FAILED');
      expectProblem(await post('/auth/passkeys/register/verify', { response: {} }, bearer(u.access)), 422, 'VALIDATION_FAILED');
      expectProblem(await post('/auth/passkeys/register/verify', { response: {}, name: 'a\nb' }, bearer(u.access)), 422, 'VALIDATION_FAILED');
      // Well-formed but garbage: the library refuses, never a 500.
      const junk = { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: 'AAAA', authenticatorData: 'AAAA', signature: 'AAAA' } };
      const res = await post('/auth/passkeys/login/verify', { response: junk });
      expectProblem(res, 400, 'PASSKEY_UNKNOWN');
      const reg = await post('/auth/passkeys/register/verify', { response: { ...junk, response: { clientDataJSON: 'AAAA', attestationObject: 'AAAA' } } }, bearer(u.access));
      expectProblem(reg, 400, 'PASSKEY_INVALID');
      expectProblem(await post('/auth/mfa/passkey/options', { mfa_token: 'nope' }), 400, 'MFA_TOKEN_INVALID');
    });
  });
});

describe('passkey sign-in and the login rate limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_LOGIN: '2/1m', RATE_LIMIT_PASSKEY_OPTIONS: '2/1m' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('the passkey sign-in routes and the second-factor options count against the login bucket (the sign-in options against their own)', async () => {
    for (const [url, payload] of [
      ['/auth/passkeys/login/options', {}], // RATE_LIMIT_PASSKEY_OPTIONS (a sign-in page with autofill asks at every view)
      ['/auth/passkeys/login/verify', { response: { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: 'AA', authenticatorData: 'AA', signature: 'AA' } } }],
      ['/auth/mfa/passkey/options', { mfa_token: 'nope' }],
    ] as const) {
      const remoteAddress = `203.0.113.${url.length}`;
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) codes.push((await t.app.inject({ method: 'POST', url, payload, remoteAddress })).statusCode);
      expect(codes[2], url).toBe(429);
      expect(codes.slice(0, 2).every((c) => c !== 429), url).toBe(true);
    }
  });
});
