import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { InvalidTokenError } from '../../src/tokens/access-token.js';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../support/helpers.js';

// The cache of verified access tokens (tokens/access-token.ts) makes a repeated token cheap; these
// tests prove it never makes an invalid token pass: expiry, a dropped key and a revoked session
// all still refuse a token that was verified (and cached) before.

const LEEWAY_MS = 5000;

describe('cache of verified access tokens', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ KEY_RELOAD_INTERVAL: '1h' }, { clock: true });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers a repeated token from the cache: the same frozen claims object', async () => {
    const { access } = await registerAndLogin(t.app);
    const first = await t.app.latchkey.tokens.verify(access);
    const second = await t.app.latchkey.tokens.verify(access);
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.roles)).toBe(true);
  });

  it('refuses a cached token once the clock passes exp + leeway, and accepts it just before', async () => {
    const { access } = await registerAndLogin(t.app);
    const exp = decodeJwt(access).exp! * 1000;
    const start = t.clock!();
    try {
      await t.app.latchkey.tokens.verify(access);
      t.clock!.set(exp + LEEWAY_MS - 1000);
      expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(access) })).statusCode).toBe(200);
      t.clock!.set(exp + LEEWAY_MS);
      await expect(t.app.latchkey.tokens.verify(access)).rejects.toBeInstanceOf(InvalidTokenError);
      expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(access) })).statusCode).toBe(401);
    } finally {
      t.clock!.set(start);
    }
  });

  it('refuses a cached token once the clock is set back past iat - leeway, as a full verification would', async () => {
    const { access } = await registerAndLogin(t.app);
    const iat = decodeJwt(access).iat! * 1000;
    const start = t.clock!();
    try {
      await t.app.latchkey.tokens.verify(access);
      t.clock!.set(iat - LEEWAY_MS);
      expect((await t.app.latchkey.tokens.verify(access)).jti).toBe(decodeJwt(access).jti);
      t.clock!.set(iat - LEEWAY_MS - 1000);
      await expect(t.app.latchkey.tokens.verify(access)).rejects.toBeInstanceOf(InvalidTokenError);
    } finally {
      t.clock!.set(start);
    }
    expect((await t.app.latchkey.tokens.verify(access)).jti).toBe(decodeJwt(access).jti);
  });

  it('refuses a cached token of a session that was logged out', async () => {
    const { access } = await registerAndLogin(t.app);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(access) })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(access) })).statusCode).toBe(204);
    const res = await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(access) });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'INVALID_TOKEN' });
  });

  it('verifies again after the keys are reloaded, and refuses a cached token whose key was removed', async () => {
    const ring = t.app.latchkey.keys;
    const { access } = await registerAndLogin(t.app);
    const kid = decodeProtectedHeader(access).kid!;
    const cached = await t.app.latchkey.tokens.verify(access);

    // A reload builds new key objects: the token is verified in full again and still passes.
    await ring.reload();
    const again = await t.app.latchkey.tokens.verify(access);
    expect(again).not.toBe(cached);
    expect(again).toEqual(cached);

    // An operator removes the key (say it leaked): the cached token must stop working at once.
    await ring.rotate();
    const store = t.app.latchkey.store;
    if (!(store instanceof SqliteStore)) throw new Error('this test removes a key row from the SQLite store');
    store.db.prepare('DELETE FROM signing_keys WHERE kid = ?').run(kid);
    await ring.reload();
    await expect(t.app.latchkey.tokens.verify(access)).rejects.toBeInstanceOf(InvalidTokenError);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(access) })).statusCode).toBe(401);
  });

  it('never caches a refused token: a tampered copy keeps failing while the original passes', async () => {
    const { access } = await registerAndLogin(t.app);
    const [h, p, s] = access.split('.');
    const tampered = `${h}.${p}.${s!.slice(0, -4)}AAAA`;
    for (let i = 0; i < 2; i++) {
      await expect(t.app.latchkey.tokens.verify(tampered)).rejects.toBeInstanceOf(InvalidTokenError);
      expect((await t.app.latchkey.tokens.verify(access)).sub).toBe(decodeJwt(access).sub);
    }
  });

  it('a token that ends like a cached one but differs before is verified in full and refused', async () => {
    const victim = await registerAndLogin(t.app);
    const other = await registerAndLogin(t.app);
    await t.app.latchkey.tokens.verify(victim.access);
    // The cached token's signature under another user's claims: same last characters, other string.
    const [h, , s] = victim.access.split('.');
    const forged = `${h}.${other.access.split('.')[1]}.${s}`;
    expect(forged.slice(-24)).toBe(victim.access.slice(-24));
    for (let i = 0; i < 2; i++) {
      await expect(t.app.latchkey.tokens.verify(forged)).rejects.toBeInstanceOf(InvalidTokenError);
      expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(forged) })).statusCode).toBe(401);
      expect((await t.app.latchkey.tokens.verify(victim.access)).sub).toBe(decodeJwt(victim.access).sub);
    }
  });

  it('a non-canonical spelling of a cached token (same decoded bytes, even the same last 24 characters) is refused', async () => {
    const { access } = await registerAndLogin(t.app);
    await t.app.latchkey.tokens.verify(access);
    const [h, p, s] = access.split('.') as [string, string, string];
    const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // The last character with an unused bit set (another cache key), and a space early in the
    // signature (the same last 24 characters as the cached token: the key it is stored under).
    const lastBitSet = `${h}.${p}.${s.slice(0, -1)}${B64URL[B64URL.indexOf(s.at(-1)!) | 1]}`;
    const spaced = `${h}.${p}.${s.slice(0, 10)} ${s.slice(10)}`;
    expect(spaced.slice(-24)).toBe(access.slice(-24));
    for (const twin of [lastBitSet, spaced, `${access}==`]) {
      expect(Buffer.from(twin.split('.')[2]!.replace(/[ =]/g, ''), 'base64url')).toEqual(Buffer.from(s, 'base64url'));
      for (let i = 0; i < 2; i++) {
        await expect(t.app.latchkey.tokens.verify(twin)).rejects.toBeInstanceOf(InvalidTokenError);
        expect((await t.app.latchkey.tokens.verify(access)).sub).toBe(decodeJwt(access).sub);
      }
    }
  });
});
