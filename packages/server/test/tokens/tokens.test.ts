import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
} from 'jose';
import { createHmac, createPublicKey, KeyObject, sign as nodeSign, type webcrypto } from 'node:crypto';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { errorHandler } from '../../src/http/error-handler.js';
import { isCanonicalCompactJws } from '../../src/tokens/compact-jws.js';
import { bearer, createTestApp, registerAndLogin, testClock, type TestApp } from '../support/helpers.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];
const b64u = (data: string | Uint8Array) => Buffer.from(data).toString('base64url');
const json64 = (value: unknown) => b64u(JSON.stringify(value));
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Other spellings of one base64url segment that a lenient decoder (atob, Buffer) turns into the
 * very same bytes: the last character with its unused low bits set, `=` padding, and ASCII
 * whitespace inside. None is canonical base64url (RFC 7515 section 2, RFC 4648 section 3.5).
 */
function sameBytesSpellings(segment: string): string[] {
  const unused = [0, 0, 4, 2][segment.length % 4]!;
  const last = B64URL.indexOf(segment.at(-1)!);
  const twins = [];
  for (let low = 1; low < 1 << unused; low++) twins.push(segment.slice(0, -1) + B64URL[last | low]);
  const padding = '='.repeat((4 - (segment.length % 4)) % 4);
  if (padding) twins.push(segment + padding);
  twins.push(`${segment.slice(0, 8)} ${segment.slice(8)}`, `${segment.slice(0, 8)}\t${segment.slice(8)}`);
  for (const twin of twins) expect(Buffer.from(twin.replace(/[\s=]/g, ''), 'base64url')).toEqual(Buffer.from(segment, 'base64url'));
  return twins;
}

async function jwks(app: FastifyInstance): Promise<JWK[]> {
  const res = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  expect(res.statusCode).toBe(200);
  return (res.json() as { keys: JWK[] }).keys;
}

const me = (app: FastifyInstance, token: string) => app.inject({ method: 'GET', url: '/auth/me', headers: bearer(token) });

function expectInvalidToken(res: LightMyRequestResponse, label: string): void {
  expect(res.statusCode, `${label}: ${res.body}`).toBe(401);
  expect(res.headers['content-type'], label).toMatch(/^application\/problem\+json/);
  expect(res.json(), label).toMatchObject({ status: 401, code: 'INVALID_TOKEN' });
  expect(res.headers['www-authenticate'], label).toBe('Bearer realm="latchkey", error="invalid_token"');
}

describe('forged and broken access tokens on GET /auth/me: always 401, never 500', () => {
  let t: TestApp;
  let access: string;
  let claims: JWTPayload;
  let header: JWTHeaderParameters;
  let now: number;
  let otherUserId: string;

  beforeAll(async () => {
    t = await createTestApp({}, { clock: true });
    now = Math.floor(t.clock!() / 1000);
    ({ access } = await registerAndLogin(t.app, 'victim@example.com'));
    otherUserId = (await registerAndLogin(t.app, 'other@example.com')).userId;
    claims = decodeJwt(access);
    header = decodeProtectedHeader(access) as JWTHeaderParameters;
  });
  afterAll(async () => {
    await t.close();
  });

  /** Signs with the server's own private key: only the named defect is wrong. */
  function signWithServerKey(
    claimPatch: Record<string, unknown>,
    headerPatch: Record<string, unknown> = {},
    crit: Record<string, boolean> = {},
  ): Promise<string> {
    const key = t.app.latchkey.keys.signingKey;
    const payload = { ...claims, ...claimPatch };
    for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
    const protectedHeader = { alg: key.alg, kid: key.kid, typ: 'at+jwt', ...headerPatch } as JWTHeaderParameters;
    for (const [k, v] of Object.entries(protectedHeader)) if (v === undefined) delete (protectedHeader as Record<string, unknown>)[k];
    return new SignJWT(payload).setProtectedHeader(protectedHeader).sign(key.key, { crit });
  }

  function hmacToken(headerValue: object, payload: object, secret: string | Uint8Array): string {
    const input = `${json64(headerValue)}.${json64(payload)}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  }

  it('control: the real token, and one re-signed by the test with the server key, are accepted', async () => {
    expect(header).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    expect((await me(t.app, access)).statusCode).toBe(200);
    expect((await me(t.app, await signWithServerKey({}))).statusCode).toBe(200);
  });

  it('alg "none" in any spelling, with or without a signature', async () => {
    const [, payload, signature] = access.split('.');
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const h = json64({ alg, typ: 'at+jwt', kid: header.kid });
      expectInvalidToken(await me(t.app, `${h}.${payload}.`), `alg ${alg}, empty signature`);
      expectInvalidToken(await me(t.app, `${h}.${payload}`), `alg ${alg}, no signature part`);
      expectInvalidToken(await me(t.app, `${h}.${payload}.${signature}`), `alg ${alg}, original signature`);
    }
  });

  it('HS256 signed with the RSA public key (every usual encoding of it as the secret)', async () => {
    const published = (await jwks(t.app)).find((k) => k.kid === header.kid)!;
    const publicKey = await importJWK(published, 'RS256');
    const pem = await exportSPKI(publicKey as Parameters<typeof exportSPKI>[0]);
    const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
    const pkcs1 = createPublicKey(pem).export({ type: 'pkcs1', format: 'pem' }) as string;
    const secrets: Array<[string, string | Uint8Array]> = [
      ['SPKI PEM', pem],
      ['SPKI PEM without trailing newline', pem.trim()],
      ['PKCS#1 PEM', pkcs1],
      ['SPKI DER', der],
      ['JWK JSON', JSON.stringify(published)],
      ['modulus bytes', Buffer.from(published.n!, 'base64url')],
    ];
    for (const [name, secret] of secrets) {
      const token = hmacToken({ alg: 'HS256', typ: 'at+jwt', kid: header.kid }, claims, secret);
      expectInvalidToken(await me(t.app, token), `HS256 keyed with ${name}`);
    }
  });

  it('a tampered payload keeps its signature and is refused', async () => {
    const [h, , s] = access.split('.');
    const patches: Array<Record<string, unknown>> = [
      { roles: ['admin'] },
      { sub: otherUserId },
      { exp: now + 10 * 365 * 86_400 },
      { email_verified: true },
    ];
    for (const patch of patches) expectInvalidToken(await me(t.app, `${h}.${json64({ ...claims, ...patch })}.${s}`), JSON.stringify(patch));
    // A single flipped signature bit.
    const sig = Buffer.from(s!, 'base64url');
    sig[sig.length - 1] ^= 1;
    expectInvalidToken(await me(t.app, `${h}.${access.split('.')[1]}.${sig.toString('base64url')}`), 'flipped bit');
  });

  it('a stripped signature', async () => {
    const [h, p] = access.split('.');
    expectInvalidToken(await me(t.app, `${h}.${p}.`), 'empty signature');
    expectInvalidToken(await me(t.app, `${h}.${p}`), 'two parts');
  });

  it('expired (beyond the leeway), also by the clock moving on', async () => {
    expectInvalidToken(await me(t.app, await signWithServerKey({ iat: now - 4000, exp: now - 3600 })), 'exp an hour ago');
    expectInvalidToken(await me(t.app, await signWithServerKey({ iat: now - 1000, exp: now - 6 })), 'exp 6 s ago, leeway 5 s');
    expect((await me(t.app, await signWithServerKey({ iat: now - 1000, exp: now - 4 }))).statusCode).toBe(200);

    const start = t.clock!();
    try {
      t.clock!.advance(15 * 60_000 + 5000 + 1000);
      expectInvalidToken(await me(t.app, access), 'real token after its lifetime');
    } finally {
      t.clock!.set(start);
    }
    expect((await me(t.app, access)).statusCode).toBe(200);
  });

  it('nbf in the future', async () => {
    expectInvalidToken(await me(t.app, await signWithServerKey({ nbf: now + 3600 })), 'nbf in an hour');
  });

  it('wrong iss, wrong aud (exact match, no normalisation)', async () => {
    for (const iss of ['http://evil.example', 'http://latchkey.test/', 'https://latchkey.test', 'HTTP://LATCHKEY.TEST']) {
      expectInvalidToken(await me(t.app, await signWithServerKey({ iss })), `iss ${iss}`);
    }
    for (const aud of ['other-api', 'Latchkey', 'latchkey ', ['other-api']]) {
      expectInvalidToken(await me(t.app, await signWithServerKey({ aud })), `aud ${JSON.stringify(aud)}`);
    }
    expectInvalidToken(await me(t.app, await signWithServerKey({ iss: undefined })), 'no iss');
    expectInvalidToken(await me(t.app, await signWithServerKey({ aud: undefined })), 'no aud');
  });

  it('missing exp (and other required claims)', async () => {
    for (const claim of ['exp', 'sub', 'sid', 'jti', 'iat']) {
      expectInvalidToken(await me(t.app, await signWithServerKey({ [claim]: undefined })), `no ${claim}`);
    }
    expectInvalidToken(await me(t.app, await signWithServerKey({ exp: String(now + 600) })), 'exp as a string');
  });

  it('wrong or missing typ', async () => {
    for (const typ of ['JWT', 'jwt', 'dpop+jwt', 'at+jwt ', undefined]) {
      expectInvalidToken(await me(t.app, await signWithServerKey({}, { typ })), `typ ${typ}`);
    }
  });

  it('unknown or missing kid', async () => {
    for (const kid of ['no-such-kid', '../../etc/passwd', '', 'k'.repeat(300), undefined]) {
      expectInvalidToken(await me(t.app, await signWithServerKey({}, { kid })), `kid ${String(kid).slice(0, 20)}`);
    }
  });

  it('an embedded jwk (or jku, x5u, x5c) header never supplies the key', async () => {
    const attacker = await generateKeyPair('RS256', { extractable: true });
    const attackerJwk = await exportJWK(attacker.publicKey);
    const attackerKid = await calculateJwkThumbprint(attackerJwk);
    const sign = (h: Record<string, unknown>) =>
      new SignJWT({ ...claims, roles: ['admin'] })
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', ...h } as JWTHeaderParameters)
        .sign(attacker.privateKey);
    const headers: Array<[string, Record<string, unknown>]> = [
      ['jwk, its own kid', { jwk: attackerJwk, kid: attackerKid }],
      ['jwk, the real kid', { jwk: attackerJwk, kid: header.kid }],
      ['jwk, no kid', { jwk: attackerJwk }],
      ['jku', { jku: 'http://127.0.0.1:1/jwks.json', kid: attackerKid }],
      ['x5u', { x5u: 'http://127.0.0.1:1/cert.pem', kid: header.kid }],
      ['x5c', { x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'], kid: header.kid }],
    ];
    for (const [name, h] of headers) expectInvalidToken(await me(t.app, await sign(h)), name);
  });

  it('an algorithm other than the one bound to the key, even with the right key material', async () => {
    const record = (await t.app.latchkey.store.listSigningKeys()).find((k) => k.kid === header.kid)!;
    const privateJwk = JSON.parse(record.privateJwk) as JWK;
    const asPss = await importJWK({ ...privateJwk, alg: 'PS256' }, 'PS256');
    const pss = await new SignJWT(claims).setProtectedHeader({ alg: 'PS256', kid: header.kid!, typ: 'at+jwt' }).sign(asPss);
    expectInvalidToken(await me(t.app, pss), 'PS256 with the RSA key');
    const ec = await generateKeyPair('ES256');
    const es = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: header.kid!, typ: 'at+jwt' }).sign(ec.privateKey);
    expectInvalidToken(await me(t.app, es), 'ES256 claiming the RSA kid');
  });

  it('a critical header the server does not understand', async () => {
    expectInvalidToken(await me(t.app, await signWithServerKey({}, { crit: ['x-must-understand'], 'x-must-understand': true }, { 'x-must-understand': true })), 'crit');
  });

  it('a validly signed token whose sub is not the owner of its session', async () => {
    expectInvalidToken(await me(t.app, await signWithServerKey({ sub: otherUserId })), 'sub swapped');
    expectInvalidToken(await me(t.app, await signWithServerKey({ sid: crypto.randomUUID() })), 'unknown sid');
  });

  it('garbage of every shape', async () => {
    const [, p, s] = access.split('.');
    const junk = [
      'abc',
      'a.b.c',
      '...',
      '.',
      `${b64u('not json')}.${p}.${s}`,
      `${json64([1, 2])}.${p}.${s}`,
      `${json64({ alg: 'RS256', kid: header.kid, typ: 'at+jwt' })}.${b64u('not json')}.${s}`,
      `${json64({ alg: 'RS256', kid: header.kid, typ: 'at+jwt' })}.${json64('a string')}.${s}`,
      `${access}.extra`,
      `${access}!`,
      'x'.repeat(9000),
      `${access.slice(0, 40)}\u00e9${access.slice(40)}`,
      Buffer.from('{"alg":"RS256"}').toString('base64'),
    ];
    for (const token of junk) expectInvalidToken(await me(t.app, token), `junk ${token.slice(0, 30)}`);
  });

  it('iat in the future: refused beyond the leeway, accepted within it (frozen clock)', async () => {
    const leeway = t.config.tokens.jwtLeewayMs / 1000;
    expect(leeway).toBe(5);
    const exp = now + 900;
    expectInvalidToken(await me(t.app, await signWithServerKey({ iat: now + leeway + 5, exp })), 'iat 10 s ahead');
    expectInvalidToken(await me(t.app, await signWithServerKey({ iat: now + leeway + 1, exp })), 'iat 6 s ahead');
    expectInvalidToken(await me(t.app, await signWithServerKey({ iat: now + 86_400, exp: now + 86_400 + 900 })), 'iat a day ahead');
    expect((await me(t.app, await signWithServerKey({ iat: now + leeway - 5, exp }))).statusCode).toBe(200);
    expect((await me(t.app, await signWithServerKey({ iat: now + leeway, exp }))).statusCode).toBe(200);
  });

  it('the real token respelled in non-canonical base64url (same decoded bytes) is refused', async () => {
    const [h, p, s] = access.split('.') as [string, string, string];
    // RS256: 256 signature bytes are 342 characters, the last one with 4 unused bits.
    expect(s.length % 4).toBe(2);
    const twins = sameBytesSpellings(s);
    expect(twins.length).toBe(15 + 1 + 2);
    for (const twin of twins) expectInvalidToken(await me(t.app, `${h}.${p}.${twin}`), `signature ${JSON.stringify(twin.slice(-3))}`);
    // A stray character outside the alphabet, in any segment.
    for (const bad of [`${h}=.${p}.${s}`, `${h}.${p}=.${s}`, `${h}.${p}.+${s.slice(1)}`, `${h}.${p}.${s.slice(0, -1)}/`]) {
      expectInvalidToken(await me(t.app, bad), `alphabet ${bad.slice(0, 10)}`);
    }
    expect((await me(t.app, access)).statusCode).toBe(200);
  });

  it('a header or payload in non-canonical base64url is refused even when signed as sent with the server key', async () => {
    const key = t.app.latchkey.keys.signingKey;
    const signAsSent = (input: string) => `${input}.${nodeSign('sha256', Buffer.from(input), KeyObject.from(key.key as webcrypto.CryptoKey)).toString('base64url')}`;
    // Pad a claim until both segments end with a partial group (unused bits to play with).
    let payload = '';
    for (let pad = 0; payload.length % 4 !== 2; pad++) payload = json64({ ...claims, pad: 'x'.repeat(pad) });
    let headerSegment = '';
    for (let pad = 0; headerSegment.length % 4 !== 3; pad++) headerSegment = json64({ alg: key.alg, kid: key.kid, typ: 'at+jwt', x: 'y'.repeat(pad) });
    expect((await me(t.app, signAsSent(`${headerSegment}.${payload}`))).statusCode).toBe(200);
    for (const twin of sameBytesSpellings(payload)) {
      expectInvalidToken(await me(t.app, signAsSent(`${headerSegment}.${twin}`)), `payload ${JSON.stringify(twin.slice(-3))}`);
    }
    for (const twin of sameBytesSpellings(headerSegment)) {
      expectInvalidToken(await me(t.app, signAsSent(`${twin}.${payload}`)), `header ${JSON.stringify(twin.slice(-3))}`);
    }
  });

  it('a token of a session that was logged out', async () => {
    const { access: gone } = await registerAndLogin(t.app, 'leaver@example.com');
    expect((await me(t.app, gone)).statusCode).toBe(200);
    const logout = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(gone) });
    expect(logout.statusCode).toBe(204);
    expectInvalidToken(await me(t.app, gone), 'after logout');
  });
});

describe('isCanonicalCompactJws', () => {
  it.each([
    ['eyJhbGciOiJSUzI1NiJ9.e30.c2k', true],
    ['eyJhbGciOiJSUzI1NiJ9.e30.c2ln', true], // a whole group: no unused bits
    ['eyJhbGciOiJSUzI1NiJ9.e30.', true], // empty signature: well-formed, refused later by the signature check
    ['eyJhbGciOiJSUzI1NiJ9.e30.c2l', false], // 'l': an unused bit set
    ['eyJhbGciOiJSUzI1NiJ9.e31.c2k', false], // '1' after two full characters: low 2 bits set
    ['eyJhbGciOiJSUzI1NiJ9.e30.c2k=', false],
    ['eyJhbGciOiJSUzI1NiJ9.e30.c2lub', false], // length 1 mod 4: not a whole byte
    ['eyJhbGciOiJSUzI1NiJ9.e30.QR', false], // 2 characters: the low 4 bits of the last must be 0
    ['eyJhbGciOiJSUzI1NiJ9.e30.QQ', true],
    ['eyJhbGciOiJSUzI1NiJ9.e30.c2k.x', false],
    ['eyJhbGciOiJSUzI1NiJ9.e30', false],
    ['eyJhbGciOiJSUzI1NiJ9.e30.c+k', false],
    ['eyJhbGciOiJSUzI1NiJ9.e30.c/k', false],
    ['eyJhbGciOiJSUzI1NiJ9 .e30.c2k', false],
    ['eyJhbGciOiJSUzI1NiJ9.e30.c2k\n', false],
    ['eyJhbGciOiJSUzI1NiJ9.e30._-A', true],
    ['eyJhbGciOiJSUzI1NiJ9.e30._-B', false],
  ])('%j -> %s', (token, canonical) => {
    expect(isCanonicalCompactJws(token)).toBe(canonical);
  });

  it('agrees with a re-encoding round trip on every last character of every segment length', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (const body of ['', 'A', 'AB', 'ABC', 'ABCD']) {
      for (const last of alphabet) {
        const segment = body + last;
        const roundTrip = segment.length % 4 !== 1 && Buffer.from(segment, 'base64url').toString('base64url') === segment;
        for (const token of [`${segment}.e30.c2k`, `e30.${segment}.c2k`, `e30.c2k.${segment}`]) {
          expect(isCanonicalCompactJws(token), token).toBe(roundTrip);
        }
      }
    }
  });
});

describe.each(['RS256', 'ES256', 'EdDSA', 'HS256'] as const)('JWT_ALG=%s round trip', (alg) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ JWT_ALG: alg });
  });
  afterAll(async () => {
    await t.close();
  });

  it('issues tokens with the claims of DESIGN.md (and amr, auth_time of docs/factors.md) that the server accepts', async () => {
    const { access, userId } = await registerAndLogin(t.app);
    const h = decodeProtectedHeader(access);
    expect(h).toEqual({ alg, kid: t.app.latchkey.keys.signingKey.kid, typ: 'at+jwt' });
    const c = decodeJwt(access);
    expect(Object.keys(c).sort()).toEqual(['amr', 'aud', 'auth_time', 'email_verified', 'exp', 'iat', 'iss', 'jti', 'roles', 'sid', 'sub']);
    expect(c).toMatchObject({ iss: 'http://latchkey.test', aud: 'latchkey', sub: userId, roles: [], amr: ['pwd'] });
    expect(c.auth_time).toBe(c.iat);
    expect(c.exp! - c.iat!).toBe(900);
    expect((await me(t.app, access)).statusCode).toBe(200);
  });

  it('publishes the public key (never private members), and a resource server verifies offline with it', async () => {
    const keys = await jwks(t.app);
    for (const key of keys) for (const m of PRIVATE_MEMBERS) expect(key, `member ${m}`).not.toHaveProperty(m);
    const { access } = await registerAndLogin(t.app);
    if (alg === 'HS256') {
      // A symmetric key is a secret: nothing is published.
      expect(keys).toEqual([]);
      expect((await t.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
      return;
    }
    expect(keys).toHaveLength(1);
    const [key] = keys;
    expect(key).toMatchObject({ kid: t.app.latchkey.keys.signingKey.kid, alg, use: 'sig' });
    const expected = { RS256: { kty: 'RSA' }, ES256: { kty: 'EC', crv: 'P-256' }, EdDSA: { kty: 'OKP', crv: 'Ed25519' } }[alg];
    expect(key).toMatchObject(expected);
    if (alg === 'RS256') expect(Buffer.from(key!.n!, 'base64url').length * 8).toBe(2048);
    const { payload } = await jwtVerify(access, createLocalJWKSet({ keys }), {
      issuer: 'http://latchkey.test',
      audience: 'latchkey',
      typ: 'at+jwt',
      algorithms: [alg],
      currentDate: new Date(t.app.latchkey.clock()),
    });
    expect(payload.sub).toBeTruthy();
  });

  it('the discovery document points at the JWKS and names the algorithm', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      issuer: 'http://latchkey.test',
      jwks_uri: 'http://latchkey.test/.well-known/jwks.json',
      token_endpoint: 'http://latchkey.test/auth/login',
      id_token_signing_alg_values_supported: [alg],
    });
  });
});

describe('key rotation (KeyRing with a frozen clock)', () => {
  const TTL = 900_000;
  const LEEWAY = 5000;
  const RELOAD = 3_600_000;
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ KEY_RELOAD_INTERVAL: '1h' }, { clock: true });
  });
  afterAll(async () => {
    await t.close();
  });

  it('old tokens verify until they expire, new tokens carry the new kid, the JWKS holds both, then drops the old', async () => {
    const ring = t.app.latchkey.keys;
    const clock = t.clock!;
    const old = await registerAndLogin(t.app, 'rotate@example.com');
    const oldKid = decodeProtectedHeader(old.access).kid!;
    const oldExp = decodeJwt(old.access).exp! * 1000;

    clock.advance(60_000);
    const rotatedAt = clock();
    const record = await ring.rotate();
    expect(record.kid).not.toBe(oldKid);
    expect(ring.signingKey.kid).toBe(record.kid);

    expect((await jwks(t.app)).map((k) => k.kid).sort()).toEqual([oldKid, record.kid].sort());
    for (const key of await jwks(t.app)) for (const m of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(m);
    expect((await me(t.app, old.access)).statusCode).toBe(200);

    const fresh = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: old.email, password: old.password } });
    const freshAccess = (fresh.json() as { access_token: string }).access_token;
    expect(decodeProtectedHeader(freshAccess).kid).toBe(record.kid);
    expect((await me(t.app, freshAccess)).statusCode).toBe(200);

    // Just before its expiry the old token still works, also after a reload of the keys.
    clock.set(oldExp - 1000);
    await ring.reload();
    expect((await me(t.app, old.access)).statusCode).toBe(200);
    clock.set(oldExp + LEEWAY + 1000);
    expect((await me(t.app, old.access)).statusCode).toBe(401);

    // Once no token it can have signed is alive, the old key leaves the JWKS.
    clock.set(rotatedAt + TTL + LEEWAY + RELOAD - 1000);
    await ring.reload();
    expect((await jwks(t.app)).map((k) => k.kid)).toContain(oldKid);
    clock.set(rotatedAt + TTL + LEEWAY + RELOAD + 1000);
    await ring.reload();
    expect((await jwks(t.app)).map((k) => k.kid)).toEqual([record.kid]);
    const later = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: old.email, password: old.password } });
    expect((await me(t.app, (later.json() as { access_token: string }).access_token)).statusCode).toBe(200);
  });

  it('keys and the active key survive a restart on the same database', async () => {
    const before = t.app.latchkey.keys.signingKey.kid;
    const again = await createTestApp({ DATABASE_URL: `sqlite:${join(t.dir, 'latchkey.db')}`, KEY_RELOAD_INTERVAL: '1h' }, { clock: t.clock });
    try {
      expect(again.app.latchkey.keys.signingKey.kid).toBe(before);
    } finally {
      await again.close();
    }
  });
});

describe('rotation seen by several instances sharing one database', () => {
  it('a token signed by an instance that has not reloaded yet stays verifiable by the others until it expires', async () => {
    const clock = testClock();
    const env = { KEY_RELOAD_INTERVAL: '1h' };
    const a = await createTestApp(env, { clock });
    const b = await createTestApp({ ...env, DATABASE_URL: `sqlite:${join(a.dir, 'latchkey.db')}` }, { clock });
    try {
      const oldKid = a.app.latchkey.keys.signingKey.kid;
      expect(b.app.latchkey.keys.signingKey.kid).toBe(oldKid);
      await registerAndLogin(a.app, 'multi@example.com');

      // `latchkey keys rotate` on another node (here: b). Instance a reloads only every hour.
      const rotated = await b.app.latchkey.keys.rotate();
      clock.advance(3_600_000 - 1000);
      const login = await a.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'multi@example.com', password: 'correct horse battery staple' } });
      const token = (login.json() as { access_token: string }).access_token;
      expect(decodeProtectedHeader(token).kid).toBe(oldKid);

      // Near the end of that token's life, b (freshly reloaded) must still know the key.
      clock.set(decodeJwt(token).exp! * 1000 - 1000);
      await b.app.latchkey.keys.reload();
      expect((await me(b.app, token)).statusCode).toBe(200);
      expect((await jwks(b.app)).map((k) => k.kid).sort()).toEqual([oldKid, rotated.kid].sort());

      // And a picks up the new key when it reloads (or meets its kid).
      await a.app.latchkey.keys.reload();
      expect(a.app.latchkey.keys.signingKey.kid).toBe(rotated.kid);
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe('WWW-Authenticate (RFC 6750)', () => {
  it('every 401 code of the registry carries a Bearer challenge, with error="invalid_token" when a token was refused', async () => {
    const app = Fastify();
    app.setErrorHandler(errorHandler);
    app.get<{ Params: { code: string } }>('/fail/:code', async (request) => {
      throw new AppError(request.params.code as ErrorCode);
    });
    const codes = (Object.keys(ERROR_CODES) as ErrorCode[]).filter((c) => ERROR_CODES[c].status === 401);
    expect(codes).toEqual(expect.arrayContaining(['UNAUTHORIZED', 'INVALID_TOKEN']));
    for (const code of codes) {
      const res = await app.inject({ method: 'GET', url: `/fail/${code}` });
      expect(res.statusCode, code).toBe(401);
      expect(res.headers['www-authenticate'], code).toMatch(/^Bearer realm="latchkey"/);
    }
    const invalid = await app.inject({ method: 'GET', url: '/fail/INVALID_TOKEN' });
    expect(invalid.headers['www-authenticate']).toBe('Bearer realm="latchkey", error="invalid_token"');
    await app.close();
  });
});
