import { createHmac, createPublicKey, KeyObject, sign as nodeSign, type webcrypto } from 'node:crypto';
import { exportSPKI } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCanonicalCompactJws } from '../src/compact-jws.js';
import { createVerifier, InvalidTokenError, verifyAccessToken, type Verifier } from '../src/index.js';
import {
  AUDIENCE,
  b64url,
  decodePart,
  ISSUER,
  makeKey,
  NOW,
  NOW_S,
  sameBytesSpellings,
  signToken,
  startJwksServer,
  type JwksServer,
  type TestKey,
} from './support.js';

let rsa: TestKey;
let ec: TestKey;
let ed: TestKey;
let attacker: TestKey;
let jwks: JwksServer;
let attackerJwks: JwksServer;
let verifier: Verifier;

function newVerifier(overrides: Partial<Parameters<typeof createVerifier>[0]> = {}): Verifier {
  return createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: jwks.url, clock: () => NOW, ...overrides });
}

/** Asserts refusal with InvalidTokenError (optionally a given reason) and no token in the message. */
async function expectRefused(token: string, reason?: string | RegExp, v: Verifier = verifier): Promise<void> {
  const err = await v.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `token was accepted`).toBeInstanceOf(InvalidTokenError);
  const e = err as InvalidTokenError;
  if (reason !== undefined) {
    if (typeof reason === 'string') expect(e.reason).toBe(reason);
    else expect(e.reason).toMatch(reason);
  }
  if (token.length > 10) expect(e.message).not.toContain(token.slice(0, 20));
}

function hs256(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | Uint8Array): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', sid: 's', jti: 'j', iat: NOW_S, exp: NOW_S + 900, roles: ['user'], ...extra };
}

beforeAll(async () => {
  [rsa, ec, ed, attacker] = await Promise.all([makeKey('RS256'), makeKey('ES256'), makeKey('EdDSA'), makeKey('RS256')]);
  jwks = await startJwksServer([rsa.jwk, ec.jwk, ed.jwk]);
  attackerJwks = await startJwksServer([attacker.jwk]);
  verifier = newVerifier();
});

afterAll(async () => {
  await jwks.close();
  await attackerJwks.close();
});

describe('valid tokens', () => {
  it.each(['RS256', 'ES256', 'EdDSA'] as const)('accepts %s and returns frozen claims', async (alg) => {
    const key = alg === 'RS256' ? rsa : alg === 'ES256' ? ec : ed;
    const token = await signToken(key, { claims: { sub: `user-${alg}`, roles: ['user', 'admin'] } });
    const c = await verifier.verify(token);
    expect(c).toMatchObject({ iss: ISSUER, aud: AUDIENCE, sub: `user-${alg}`, sid: 'session-1', roles: ['user', 'admin'], email_verified: true });
    expect(c.exp).toBe(NOW_S + 900);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.roles)).toBe(true);
  });

  it('accepts an expired token within the leeway, and application/at+jwt as typ', async () => {
    await expect(verifier.verify(await signToken(rsa, { claims: { exp: NOW_S - 3 } }))).resolves.toMatchObject({ sub: 'user-1' });
    await expect(verifier.verify(await signToken(rsa, { header: { typ: 'application/at+jwt' } }))).resolves.toMatchObject({ sub: 'user-1' });
  });

  it('accepts an aud array that contains the audience and reports the matching one', async () => {
    const c = await verifier.verify(await signToken(ec, { claims: { aud: ['other', AUDIENCE] } }));
    expect(c.aud).toBe(AUDIENCE);
  });

  it('verifyAccessToken shares one verifier (and one JWKS fetch) between calls with equal options', async () => {
    const server = await startJwksServer([rsa.jwk]);
    try {
      // The shared form uses the real clock, so these tokens are issued now.
      const now = Math.floor(Date.now() / 1000);
      const tokens = await Promise.all(
        [1, 2, 3].map((i) => signToken(rsa, { claims: { sub: `u${i}`, iat: now, exp: now + 600 } })),
      );
      for (const token of tokens) {
        // A new but equal options object each time: still one verifier.
        const c = await verifyAccessToken(token, { issuer: ISSUER, audience: AUDIENCE, jwksUrl: server.url });
        expect(c.sub).toMatch(/^u\d$/);
      }
      expect(server.hits).toBe(1);
      await expect(verifyAccessToken(tokens[0]!, { issuer: 'http://other', audience: AUDIENCE, jwksUrl: server.url })).rejects.toBeInstanceOf(
        InvalidTokenError,
      );
    } finally {
      await server.close();
    }
  });
});

describe('attack matrix: every one is refused', () => {
  it.each(['none', 'None', 'NONE', 'nOnE'])('alg "%s" (unsigned and with a signature copied from a valid token)', async (alg) => {
    const valid = await signToken(rsa);
    const [, payload, signature] = valid.split('.');
    const header = b64url(JSON.stringify({ alg, kid: rsa.kid, typ: 'at+jwt' }));
    const before = jwks.hits;
    await expectRefused(`${header}.${payload}.`);
    await expectRefused(`${header}.${payload}.${signature}`);
    await expectRefused(`${header}.${payload}`);
    // Refused on the allow-list, before any key lookup.
    expect(jwks.hits).toBe(before);
  });

  it('HS256 signed with the RSA public key (PEM, DER, JWK, modulus) as the HMAC secret', async () => {
    const pem = await exportSPKI(rsa.publicKey);
    const der = createPublicKey(pem).export({ format: 'der', type: 'spki' });
    const secrets: (string | Uint8Array)[] = [pem, pem.trim(), der, JSON.stringify(rsa.jwk), Buffer.from(rsa.jwk.n!, 'base64url')];
    for (const secret of secrets) {
      await expectRefused(hs256({ alg: 'HS256', kid: rsa.kid, typ: 'at+jwt' }, claims(), secret), 'ERR_JOSE_ALG_NOT_ALLOWED');
      await expectRefused(hs256({ alg: 'HS256', typ: 'at+jwt' }, claims(), secret));
    }
  });

  it('a tampered payload with the original signature', async () => {
    const valid = await signToken(rsa);
    const [header, , signature] = valid.split('.');
    const forged = b64url(JSON.stringify({ ...decodePart(valid, 1), sub: 'admin-user', roles: ['admin'] }));
    await expectRefused(`${header}.${forged}.${signature}`, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    for (const key of [ec, ed]) {
      const t = await signToken(key);
      const [h, , s] = t.split('.');
      await expectRefused(`${h}.${b64url(JSON.stringify({ ...decodePart(t, 1), exp: NOW_S + 999_999 }))}.${s}`);
    }
  });

  it('a stripped or truncated signature', async () => {
    for (const key of [rsa, ec, ed]) {
      const [h, p, s] = (await signToken(key)).split('.');
      await expectRefused(`${h}.${p}.`);
      await expectRefused(`${h}.${p}`);
      await expectRefused(`${h}.${p}.${s!.slice(0, -4)}`);
    }
  });

  it('an expired token (past the leeway; at the boundary with no leeway)', async () => {
    await expectRefused(await signToken(rsa, { claims: { exp: NOW_S - 6 } }), 'ERR_JWT_EXPIRED');
    const strict = newVerifier({ leewaySeconds: 0 });
    await expectRefused(await signToken(rsa, { claims: { exp: NOW_S } }), 'ERR_JWT_EXPIRED', strict);
    await expect(strict.verify(await signToken(rsa, { claims: { exp: NOW_S + 1 } }))).resolves.toBeTruthy();
  });

  it('nbf in the future', async () => {
    await expectRefused(await signToken(rsa, { claims: { nbf: NOW_S + 60 } }), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
  });

  it('iat in the future beyond the leeway (frozen clock); within the leeway accepted', async () => {
    const leeway = verifier.leewaySeconds;
    expect(leeway).toBe(5);
    await expectRefused(await signToken(rsa, { claims: { iat: NOW_S + leeway + 5 } }), 'iat in the future');
    await expectRefused(await signToken(rsa, { claims: { iat: NOW_S + leeway + 1 } }), 'iat in the future');
    await expectRefused(await signToken(rsa, { claims: { iat: NOW_S + 86_400, exp: NOW_S + 86_400 + 900 } }), 'iat in the future');
    await expect(verifier.verify(await signToken(rsa, { claims: { iat: NOW_S + leeway - 5 } }))).resolves.toBeTruthy();
    await expect(verifier.verify(await signToken(rsa, { claims: { iat: NOW_S + leeway } }))).resolves.toBeTruthy();
    const strict = newVerifier({ leewaySeconds: 0 });
    await expectRefused(await signToken(rsa, { claims: { iat: NOW_S + 1 } }), 'iat in the future', strict);
  });

  it.each(['RS256', 'ES256', 'EdDSA'] as const)(
    'a real %s token with its signature respelled in non-canonical base64url (same bytes), before and after the original is cached',
    async (alg) => {
      const key = alg === 'RS256' ? rsa : alg === 'ES256' ? ec : ed;
      const token = await signToken(key);
      const [h, p, s] = token.split('.') as [string, string, string];
      const twins = sameBytesSpellings(s).map((twin) => `${h}.${p}.${twin}`);
      expect(twins.length).toBeGreaterThanOrEqual(15 + 3); // 342 or 86 characters: 4 unused bits
      const v = newVerifier();
      for (const twin of twins) await expectRefused(twin, 'not canonical base64url', v);
      await expect(v.verify(token)).resolves.toMatchObject({ sub: 'user-1' });
      expect(v.peek(token)).toBeDefined();
      for (const twin of twins) {
        expect(v.peek(twin)).toBeUndefined();
        await expectRefused(twin, 'not canonical base64url', v);
      }
    },
  );

  it('a header or payload in non-canonical base64url, even signed as sent with the trusted key', async () => {
    const signAsSent = (input: string) =>
      `${input}.${nodeSign('sha256', Buffer.from(input), KeyObject.from(rsa.privateKey as webcrypto.CryptoKey)).toString('base64url')}`;
    let payload = '';
    for (let pad = 0; payload.length % 4 !== 2; pad++) payload = b64url(JSON.stringify(claims({ pad: 'x'.repeat(pad) })));
    let header = '';
    for (let pad = 0; header.length % 4 !== 3; pad++) header = b64url(JSON.stringify({ alg: 'RS256', kid: rsa.kid, typ: 'at+jwt', x: 'y'.repeat(pad) }));
    await expect(verifier.verify(signAsSent(`${header}.${payload}`))).resolves.toMatchObject({ sub: 'user-1' });
    for (const twin of sameBytesSpellings(payload)) await expectRefused(signAsSent(`${header}.${twin}`), 'not canonical base64url');
    for (const twin of sameBytesSpellings(header)) await expectRefused(signAsSent(`${twin}.${payload}`), 'not canonical base64url');
  });

  it('a wrong issuer (exact match: no trailing slash, no case folding)', async () => {
    for (const iss of ['http://evil.test', `${ISSUER}/`, ISSUER.toUpperCase(), '']) {
      await expectRefused(await signToken(rsa, { claims: { iss } }), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    }
    await expectRefused(await signToken(rsa, { omit: ['iss'] }));
  });

  it('a wrong audience', async () => {
    for (const aud of ['other', 'LATCHKEY', ['other', 'api']]) {
      await expectRefused(await signToken(rsa, { claims: { aud } }), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    }
    await expectRefused(await signToken(rsa, { omit: ['aud'] }));
  });

  it('a missing exp (and the other required claims)', async () => {
    await expectRefused(await signToken(rsa, { omit: ['exp'] }), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    for (const claim of ['iat', 'sub', 'sid', 'jti']) await expectRefused(await signToken(rsa, { omit: [claim] }));
    await expectRefused(await signToken(rsa, { claims: { exp: String(NOW_S + 900) as unknown as number } }));
    await expectRefused(await signToken(rsa, { claims: { roles: 'admin' } }), 'bad roles');
    await expectRefused(await signToken(rsa, { claims: { roles: [1] } }), 'bad roles');
    await expectRefused(await signToken(rsa, { claims: { sid: 42 } }), 'bad claims');
  });

  it('a wrong or missing typ', async () => {
    for (const typ of ['JWT', 'jwt', 'at+JWT+x', 'id_token', 'application/jwt']) {
      await expectRefused(await signToken(rsa, { header: { typ } }), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    }
    const [, p, s] = (await signToken(rsa)).split('.');
    await expectRefused(`${b64url(JSON.stringify({ alg: 'RS256', kid: rsa.kid }))}.${p}.${s}`);
  });

  it('an unknown or malformed kid', async () => {
    await expectRefused(await signToken(attacker), 'unknown kid');
    await expectRefused(await signToken(rsa, { header: { kid: undefined } }), 'missing kid');
    await expectRefused(await signToken(rsa, { header: { kid: 42 } }), 'missing kid');
    await expectRefused(await signToken(rsa, { header: { kid: 'x'.repeat(300) } }), 'missing kid');
    // Object-prototype names are only map keys, nothing more.
    for (const kid of ['__proto__', 'constructor', 'toString']) await expectRefused(await signToken(rsa, { header: { kid } }));
  });

  it('an embedded jwk header (attacker key, with its own kid or a trusted kid)', async () => {
    await expectRefused(await signToken(attacker, { header: { jwk: attacker.jwk } }));
    await expectRefused(await signToken(attacker, { header: { kid: rsa.kid, jwk: attacker.jwk } }), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  });

  it('jku / x5u headers pointing elsewhere are never fetched', async () => {
    const before = attackerJwks.hits;
    await expectRefused(await signToken(attacker, { header: { jku: attackerJwks.url } }));
    await expectRefused(await signToken(attacker, { header: { kid: rsa.kid, jku: attackerJwks.url } }));
    await expectRefused(await signToken(attacker, { header: { x5u: attackerJwks.url } }));
    await expectRefused(await signToken(attacker, { header: { kid: rsa.kid, x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'] } }));
    expect(attackerJwks.hits).toBe(before);
  });

  it('a key used with another algorithm than its own (alg bound to the key)', async () => {
    await expectRefused(await signToken(ec, { header: { kid: rsa.kid } }), 'alg does not match key');
    await expectRefused(await signToken(rsa, { header: { kid: ed.kid } }), 'alg does not match key');
    // The RSA key with RS512 (a real RS512 signature): not on the allow-list.
    await expectRefused(await rsaSigned({ alg: 'RS512', kid: rsa.kid, typ: 'at+jwt' }, claims(), 'sha512'), 'ERR_JOSE_ALG_NOT_ALLOWED');
  });

  it('an algorithm outside the configured allow-list', async () => {
    const rsOnly = newVerifier({ algorithms: ['RS256'] });
    await expect(rsOnly.verify(await signToken(rsa))).resolves.toBeTruthy();
    await expectRefused(await signToken(ec), 'ERR_JOSE_ALG_NOT_ALLOWED', rsOnly);
  });

  it('an unknown critical header', async () => {
    const header = { alg: 'RS256', kid: rsa.kid, typ: 'at+jwt', crit: ['exp-x'], 'exp-x': 1 };
    await expectRefused(await rsaSigned(header, claims(), 'sha256'), 'ERR_JOSE_NOT_SUPPORTED');
    // The same signer without crit is accepted, so the refusal above is the crit header's doing.
    await expect(verifier.verify(await rsaSigned({ alg: 'RS256', kid: rsa.kid, typ: 'at+jwt' }, claims(), 'sha256'))).resolves.toBeTruthy();
  });

  it('an over-long token, refused before parsing or any fetch', async () => {
    const fresh = newVerifier();
    const valid = await signToken(rsa, { claims: { pad: 'x'.repeat(9000) } });
    await expectRefused(valid, 'malformed', fresh);
    expect(fresh.stats.jwksFetches).toBe(0);
    const roomy = newVerifier({ maxTokenLength: 20_000 });
    await expect(roomy.verify(valid)).resolves.toBeTruthy();
  });

  it('garbage of every shape', async () => {
    const [h, p] = (await signToken(rsa)).split('.');
    const cases = [
      '',
      'abc',
      'a.b.c',
      '...',
      `${h}.${p}.@@@`,
      `${h}.${p}.sig.extra.parts`,
      `${b64url('not json')}.${p}.AAAA`,
      `${h}.${b64url('not json')}.AAAA`,
      `${h}.${b64url('[1,2]')}.AAAA`,
      `${b64url('"str"')}.${p}.AAAA`,
    ];
    for (const token of cases) await expectRefused(token);
    await expectRefused(123 as unknown as string, 'malformed');
  });

  it('an ES256 signature in DER form instead of raw r||s', async () => {
    const token = await signToken(ec);
    const [h, p] = token.split('.');
    const der = nodeSign('sha256', Buffer.from(`${h}.${p}`), { key: await exportPkcs8(ec), dsaEncoding: 'der' });
    await expectRefused(`${h}.${p}.${b64url(der)}`);
  });
});

/** Signs with the trusted RSA key through node:crypto, bypassing jose's own header checks. */
async function rsaSigned(header: Record<string, unknown>, payload: Record<string, unknown>, hash: 'sha256' | 'sha512'): Promise<string> {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${b64url(nodeSign(hash, Buffer.from(input), await exportPkcs8(rsa)))}`;
}

async function exportPkcs8(key: TestKey): Promise<string> {
  const { exportPKCS8 } = await import('jose');
  return exportPKCS8(key.privateKey);
}

describe('isCanonicalCompactJws (the server has the same rule)', () => {
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
    for (const bad of ['e30.e30', 'e30.e30.c2k.x', 'e30.e30.c2k=', 'e30 .e30.c2k', 'e30.e30.c+k', 'e30.e30.c/k']) {
      expect(isCanonicalCompactJws(bad), bad).toBe(false);
    }
  });
});

describe('options are checked at construction', () => {
  it.each([
    [{ leewaySeconds: 61 }, /leewaySeconds/],
    [{ leewaySeconds: -1 }, /leewaySeconds/],
    [{ algorithms: ['HS256'] }, /algorithms/],
    [{ algorithms: [] }, /algorithms/],
    [{ jwksUrl: 'file:///etc/passwd' }, /jwksUrl/],
    [{ jwksUrl: '/relative' }, /jwksUrl/],
    [{ audience: '' }, /audience/],
    [{ audience: [] }, /audience/],
    [{ issuer: '' }, /issuer/],
    [{ tokenCacheSize: Number.NaN }, /tokenCacheSize/],
  ])('%o is refused', (overrides, message) => {
    expect(() => newVerifier(overrides as Parameters<typeof newVerifier>[0])).toThrow(message);
  });
});
