/**
 * Password hashing cannot be exhausted without credentials (docs/abuse.md, "Hashing load"):
 * a reset with a bogus token costs no hash, reset / verify / change-password count in buckets
 * of their own, and a wrong current password at change-password counts toward the login backoff.
 * Hash work is counted through the real hasher's queue (`hasher.queue.started`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { bucketFor } from '../../../src/features/ratelimit/limits.js';
import { hashToken, newOpaqueToken } from '../../../src/lib/ids.js';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a brand new passphrase 42';

function reset(t: TestApp, token: string, newPassword = NEW_PASSWORD, ip?: string) {
  return t.app.inject({
    method: 'POST',
    url: '/auth/password/reset',
    payload: { token, new_password: newPassword },
    ...(ip ? { remoteAddress: ip } : {}),
  });
}

function login(t: TestApp, email: string, password: string, ip?: string) {
  return t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, ...(ip ? { remoteAddress: ip } : {}) });
}

/** A live reset token for the user, stored the way forgotPassword stores it (its hash only). */
async function resetTokenFor(t: TestApp, userId: string): Promise<string> {
  const token = newOpaqueToken();
  const now = t.app.latchkey.clock();
  await t.app.latchkey.store.createOneTimeToken({ tokenHash: hashToken(token), userId, purpose: 'reset_password', createdAt: now, expiresAt: now + 60_000 });
  return token;
}

describe('password reset checks the token before hashing', () => {
  let t: TestApp;
  beforeAll(async () => {
    // One hashing thread and a short waiting line: easy to fill if anything queues hash work.
    // The per-IP limits are off here so that only the order of the checks is under test.
    t = await createTestApp({ HASH_CONCURRENCY: '1', HASH_QUEUE_MAX: '4', RATE_LIMIT_ENABLED: 'false' });
  });
  afterAll(() => t.close());

  it('90 concurrent resets with bogus tokens from one IP cost no hash; a real login meanwhile succeeds', async () => {
    const user = await registerAndLogin(t.app, 'burst@example.com', PASSWORD);
    const queue = t.app.latchkey.hasher.queue;
    const before = queue.started;
    const [logged, ...resets] = await Promise.all([
      login(t, user.email, PASSWORD),
      ...Array.from({ length: 90 }, (_, i) => reset(t, `bogus-token-${i}-${'x'.repeat(32)}`)),
    ]);
    expect(resets.map((r) => r.statusCode)).toEqual(Array(90).fill(400));
    expect(new Set(resets.map((r) => r.json().code))).toEqual(new Set(['TOKEN_INVALID']));
    expect(logged!.statusCode, logged!.body).toBe(200);
    // The login's one verification is the only hash work of the whole burst.
    expect(queue.started - before).toBe(1);
  });

  it('a valid token is hashed for once and spent once; concurrent uses of it: exactly one 204', async () => {
    const user = await registerAndLogin(t.app, 'valid@example.com', PASSWORD);
    const token = await resetTokenFor(t, user.userId);
    const queue = t.app.latchkey.hasher.queue;
    const before = queue.started;
    const results = await Promise.all(['first new passphrase', 'second new passphrase', 'third new passphrase'].map((p) => reset(t, token, p)));
    const codes = results.map((r) => r.statusCode).sort();
    // Each request found the token live before hashing (at most 3 hashes: the waiting line is 4
    // long), and the atomic spend after hashing let exactly one of them through.
    expect(codes.filter((c) => c === 204)).toHaveLength(1);
    for (const r of results) if (r.statusCode !== 204) expect(r.json().code).toMatch(/^(TOKEN_INVALID|OVERLOADED)$/);
    expect(queue.started - before).toBeLessThanOrEqual(3);
    expect((await reset(t, token)).json().code).toBe('TOKEN_INVALID');
  });

  it('a password the policy refuses costs no hash and leaves the token usable', async () => {
    const user = await registerAndLogin(t.app, 'policy@example.com', PASSWORD);
    const token = await resetTokenFor(t, user.userId);
    const before = t.app.latchkey.hasher.queue.started;
    expect((await reset(t, token, 'password')).json().code).toBe('VALIDATION_FAILED');
    expect(t.app.latchkey.hasher.queue.started - before).toBe(0);
    expect((await reset(t, token)).statusCode).toBe(204);
    expect((await login(t, user.email, NEW_PASSWORD)).statusCode).toBe(200);
  });
});

describe('reset, verify and change-password count in buckets of their own', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_RESET: '2/1m',
      RATE_LIMIT_VERIFY: '3/1m',
      RATE_LIMIT_CHANGE_PASSWORD: '4/1m',
      RATE_LIMIT_DEFAULT: '1000/1m',
      RATE_LIMIT_REGISTER: '1000/1m',
      RATE_LIMIT_LOGIN: '1000/1m',
    });
  });
  afterAll(() => t.close());

  it('maps each route to its bucket', () => {
    expect(bucketFor('/auth/password/reset')).toBe('reset');
    expect(bucketFor('/auth/email/verify')).toBe('verify');
    expect(bucketFor('/auth/change-password')).toBe('change_password');
    // A reauthentication with a password is one verification, with an access token: the same budget.
    expect(bucketFor('/auth/reauthenticate')).toBe('change_password');
    // The second half of a login shares the login bucket's per-IP budget.
    expect(bucketFor('/auth/mfa/verify')).toBe('login');
    // A passkey sign-in's options: a stored challenge, no hash; asked at every view of an autofill page.
    expect(bucketFor('/auth/passkeys/login/options')).toBe('passkey_options');
    expect(bucketFor('/auth/me')).toBe('default');
  });

  it('each answers 429 past its own limit while the default bucket still has room', async () => {
    const ip = '203.0.113.40';
    const resets = [];
    for (let i = 0; i < 3; i++) resets.push(await reset(t, `bogus-${i}-${'y'.repeat(40)}`, NEW_PASSWORD, ip));
    expect(resets.map((r) => r.statusCode)).toEqual([400, 400, 429]);
    expect(resets[0]!.headers['ratelimit-limit']).toBe('2');

    const verifies = [];
    for (let i = 0; i < 4; i++) {
      verifies.push(await t.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token: `bogus-${i}` }, remoteAddress: ip }));
    }
    expect(verifies.map((r) => r.statusCode)).toEqual([400, 400, 400, 429]);
    expect(verifies[0]!.headers['ratelimit-limit']).toBe('3');

    const user = await registerAndLogin(t.app, 'buckets@example.com', PASSWORD);
    const changes = [];
    for (let i = 0; i < 5; i++) {
      changes.push(
        await t.app.inject({
          method: 'POST',
          url: '/auth/change-password',
          headers: bearer(user.access),
          payload: { current_password: 'not the current one', new_password: NEW_PASSWORD },
          remoteAddress: ip,
        }),
      );
    }
    expect(changes.map((r) => r.statusCode)).toEqual([400, 400, 400, 400, 429]);
    expect(changes[0]!.headers['ratelimit-limit']).toBe('4');
    // POST /auth/reauthenticate shares that per-IP window: spent, so refused before any hashing.
    const reauth = await t.app.inject({ method: 'POST', url: '/auth/reauthenticate', headers: bearer(user.access), payload: { password: PASSWORD }, remoteAddress: ip });
    expect(reauth.statusCode).toBe(429);
    expect(reauth.headers['ratelimit-limit']).toBe('4');

    // Other routes of the default bucket are unaffected.
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(user.access), remoteAddress: ip });
    expect(me.statusCode).toBe(200);
    expect(me.headers['ratelimit-limit']).toBe('1000');
  });

  it('defaults: no unauthenticated route that hashes allows more hash work per IP than login', () => {
    const { rateLimits } = loadConfig({}).rateLimit;
    const perMinute = (r: { limit: number; windowMs: number }) => (r.limit * 60_000) / r.windowMs;
    const login = perMinute(rateLimits.login);
    // Login: one verification per request; register: one hash per new account; reset: one hash
    // per request with a live token (none with a bogus one).
    for (const bucket of ['register', 'reset'] as const) expect(perMinute(rateLimits[bucket])).toBeLessThanOrEqual(login);
    // Change-password (signed in): a verification, and a hash when it succeeds.
    expect(2 * perMinute(rateLimits.change_password)).toBeLessThanOrEqual(login);
  });
});

describe('change-password: wrong current passwords count toward the login backoff', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_CHANGE_PASSWORD: '1000/1m',
      RATE_LIMIT_LOGIN: '1000/1m',
      LOGIN_BACKOFF_THRESHOLD: '3',
      LOGIN_BACKOFF_BASE: '60s',
    });
  });
  afterAll(() => t.close());

  const change = (access: string, current: string, ip: string) =>
    t.app.inject({
      method: 'POST',
      url: '/auth/change-password',
      headers: bearer(access),
      payload: { current_password: current, new_password: NEW_PASSWORD },
      remoteAddress: ip,
    });

  it('a stolen access token cannot guess the current password without bound', async () => {
    const user = await registerAndLogin(t.app, 'stolen@example.com', PASSWORD);
    const attacker = '198.51.100.66';
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await change(user.access, `guess number ${i}`, attacker)).statusCode);
    // The third wrong password engages the lock and is answered 429 already.
    expect(codes).toEqual([400, 400, 429]);
    // Locked: answered without a verification, even for the right password.
    const before = t.app.latchkey.hasher.queue.started;
    const locked = await change(user.access, PASSWORD, attacker);
    expect(locked.statusCode).toBe(429);
    expect(locked.json().code).toBe('RATE_LIMITED');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(t.app.latchkey.hasher.queue.started - before).toBe(0);
    // The same (account, IP) pair as login: the lock holds there too.
    expect((await login(t, user.email, PASSWORD, attacker)).statusCode).toBe(429);
    // The real user, from their own address, is not locked out.
    expect((await change(user.access, PASSWORD, '192.0.2.10')).statusCode).toBe(204);
  });
});
