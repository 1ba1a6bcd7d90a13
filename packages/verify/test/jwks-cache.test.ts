import { randomUUID } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createVerifier, InvalidTokenError, JwksUnavailableError, type Verifier, type VerifierOptions } from '../src/index.js';
import { TokenCache } from '../src/token-cache.js';
import { AUDIENCE, ISSUER, makeKey, NOW, NOW_S, signToken, startJwksServer, type JwksServer, type TestKey } from './support.js';

let rsa: TestKey;
let ec: TestKey;
let next: TestKey;
const servers: JwksServer[] = [];

beforeAll(async () => {
  [rsa, ec, next] = await Promise.all([makeKey('RS256'), makeKey('ES256'), makeKey('EdDSA')]);
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(overrides: Partial<VerifierOptions> = {}): Promise<{ server: JwksServer; verifier: Verifier; clock: { now: number } }> {
  const server = await startJwksServer([rsa.jwk, ec.jwk]);
  servers.push(server);
  const clock = { now: NOW };
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUrl: server.url,
    clock: () => clock.now,
    jwksCooldownMs: 5000,
    ...overrides,
  });
  return { server, verifier, clock };
}

const distinctTokens = (key: TestKey, n: number) =>
  Promise.all(Array.from({ length: n }, (_, i) => signToken(key, { claims: { sub: `user-${i}` } })));

describe('JWKS cache against a real HTTP server', () => {
  it('N verifications of distinct tokens cause exactly one fetch', async () => {
    const { server, verifier } = await setup();
    const tokens = [...(await distinctTokens(rsa, 30)), ...(await distinctTokens(ec, 20))];
    for (const token of tokens) await verifier.verify(token);
    expect(server.hits).toBe(1);
    expect(verifier.stats).toMatchObject({ jwksFetches: 1, jwksKeys: 2, cachedTokens: 50 });
  });

  it('concurrent verifications on a cold cache share one fetch', async () => {
    const { server, verifier } = await setup();
    const claims = await Promise.all((await distinctTokens(rsa, 25)).map((t) => verifier.verify(t)));
    expect(claims.map((c) => c.sub)).toContain('user-24');
    expect(server.hits).toBe(1);
  });

  it('a known kid never causes a fetch, even when its token is refused', async () => {
    const { server, verifier } = await setup();
    await verifier.verify(await signToken(rsa));
    const [h, p, s] = (await signToken(rsa)).split('.');
    const tampered = `${h}.${p}.${s!.slice(0, -3)}AAA`;
    for (let i = 0; i < 20; i++) await expect(verifier.verify(tampered)).rejects.toBeInstanceOf(InvalidTokenError);
    expect(server.hits).toBe(1);
  });

  it('unknown kids cause at most one refetch per cooldown', async () => {
    const { server, verifier, clock } = await setup({ jwksCooldownMs: 5000 });
    await verifier.verify(await signToken(rsa));
    expect(server.hits).toBe(1);
    const stranger = await makeKey('RS256');
    const unknown = () => signToken({ ...stranger, kid: randomUUID() });

    // Inside the cooldown after the initial fetch: refused without any request.
    for (let i = 0; i < 20; i++) await expect(verifier.verify(await unknown())).rejects.toMatchObject({ reason: 'unknown kid' });
    expect(server.hits).toBe(1);

    clock.now += 5000;
    // A burst of unknown kids, sequential and concurrent: one refetch between them.
    await expect(verifier.verify(await unknown())).rejects.toMatchObject({ reason: 'unknown kid' });
    const burst = await Promise.all(Array.from({ length: 20 }, async () => verifier.verify(await unknown()).catch((e: unknown) => e)));
    expect(burst.every((e) => e instanceof InvalidTokenError)).toBe(true);
    expect(server.hits).toBe(2);

    clock.now += 4999;
    await expect(verifier.verify(await unknown())).rejects.toBeInstanceOf(InvalidTokenError);
    expect(server.hits).toBe(2);
    clock.now += 1;
    await expect(verifier.verify(await unknown())).rejects.toBeInstanceOf(InvalidTokenError);
    expect(server.hits).toBe(3);
  });

  it('a key published after rotation is picked up on its first token, old keys keep working', async () => {
    const { server, verifier, clock } = await setup();
    const old = await signToken(rsa);
    await verifier.verify(old);
    server.keys = [rsa.jwk, ec.jwk, next.jwk];
    clock.now += 5000;
    const fresh = await signToken(next);
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.hits).toBe(2);
    await expect(verifier.verify(await signToken(rsa, { claims: { sub: 'other' } }))).resolves.toMatchObject({ sub: 'other' });
    await expect(verifier.verify(await signToken(next, { claims: { sub: 'again' } }))).resolves.toMatchObject({ sub: 'again' });
    expect(server.hits).toBe(2);
  });

  it('JWKS down: 503-class error for unknown kids, rate-limited retries, recovery', async () => {
    const { server, verifier, clock } = await setup();
    server.failWith = 500;
    const token = await signToken(rsa);
    for (let i = 0; i < 10; i++) await expect(verifier.verify(token)).rejects.toBeInstanceOf(JwksUnavailableError);
    expect(server.hits).toBe(1);
    server.failWith = undefined;
    clock.now += 5000;
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.hits).toBe(2);
  });

  it('a dropped connection is retried once at once; two in a row make the JWKS unavailable', async () => {
    const { server, verifier, clock } = await setup();
    server.dropNext = 1;
    await expect(verifier.verify(await signToken(rsa))).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.hits).toBe(2);
    server.keys = [rsa.jwk, ec.jwk, next.jwk];
    server.dropNext = 2;
    clock.now += 5000;
    await expect(verifier.verify(await signToken(next))).rejects.toBeInstanceOf(JwksUnavailableError);
    expect(server.hits).toBe(4);
    expect(verifier.stats.jwksFetches).toBe(4);
  });

  it('an unreachable JWKS (connection refused) is JwksUnavailableError, never a crash', async () => {
    const { server } = await setup();
    const url = server.url;
    await server.close();
    servers.pop();
    const down = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: url, clock: () => NOW });
    await expect(down.verify(await signToken(rsa))).rejects.toBeInstanceOf(JwksUnavailableError);
    await expect(down.verify(await signToken(ec))).rejects.toBeInstanceOf(JwksUnavailableError);
    // One attempt plus its one immediate retry; the second verification is inside the cooldown.
    expect(down.stats.jwksFetches).toBe(2);
  });

  it('refresh() after a key is withdrawn forgets it and the tokens it verified', async () => {
    const { server, verifier } = await setup();
    const token = await signToken(ec);
    await verifier.verify(token);
    expect(verifier.peek(token)).toBeDefined();
    server.keys = [rsa.jwk];
    await verifier.refresh();
    expect(verifier.peek(token)).toBeUndefined();
    await expect(verifier.verify(token)).rejects.toMatchObject({ reason: 'unknown kid' });
  });

  it('a stale JWKS is refreshed in the background once, on the next verification', async () => {
    const { server, verifier, clock } = await setup({ jwksMaxAgeMs: 60_000 });
    await verifier.verify(await signToken(rsa));
    clock.now += 60_000;
    // Still answered from the cached key; the refresh runs beside it.
    await expect(verifier.verify(await signToken(rsa, { claims: { sub: 'a' } }))).resolves.toMatchObject({ sub: 'a' });
    await verifier.verify(await signToken(rsa, { claims: { sub: 'b' } }));
    await vi.waitFor(() => expect(server.hits).toBe(2));
    // Fresh again: no further fetch.
    await verifier.verify(await signToken(rsa, { claims: { sub: 'c' } }));
    expect(verifier.stats.jwksFetches).toBe(2);
    expect(server.hits).toBe(2);
  });

  it('only usable signing keys are imported from the JWKS', async () => {
    const { server, verifier } = await setup();
    const bad = await Promise.all([makeKey('RS256'), makeKey('RS256'), makeKey('ES256'), makeKey('RS256')]);
    server.keys = [
      { ...bad[0]!.jwk, alg: undefined }, // no alg: not guessed
      { ...bad[1]!.jwk, use: 'enc' },
      { ...bad[2]!.jwk, alg: 'RS256' }, // an EC key claiming RS256
      { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac', alg: 'HS256' },
      { ...bad[3]!.jwk, key_ops: ['encrypt'] },
      { ...rsa.jwk, d: 'private-member-must-be-ignored' },
    ];
    await verifier.refresh();
    expect(verifier.stats.jwksKeys).toBe(1);
    await expect(verifier.verify(await signToken(rsa))).resolves.toBeTruthy();
    for (const key of [bad[0]!, bad[1]!, bad[3]!]) await expect(verifier.verify(await signToken(key))).rejects.toBeInstanceOf(InvalidTokenError);
  });
});

describe('verified-token cache', () => {
  it('a repeated token is answered from the cache, without a second signature check', async () => {
    const { server, verifier } = await setup();
    const token = await signToken(rsa);
    const first = await verifier.verify(token);
    for (let i = 0; i < 100; i++) expect(await verifier.verify(token)).toBe(first);
    expect(verifier.peek(token)).toBe(first);
    expect(verifier.stats.cachedTokens).toBe(1);
    expect(server.hits).toBe(1);
  });

  it('checks exp on every hit: a cached token expires like any other', async () => {
    const { verifier, clock } = await setup({ leewaySeconds: 5 });
    const token = await signToken(rsa, { claims: { exp: NOW_S + 60 } });
    await verifier.verify(token);
    clock.now = (NOW_S + 64) * 1000;
    expect(verifier.peek(token)).toBeDefined();
    clock.now = (NOW_S + 65) * 1000;
    expect(verifier.peek(token)).toBeUndefined();
    await expect(verifier.verify(token)).rejects.toMatchObject({ reason: 'ERR_JWT_EXPIRED' });
  });

  it('is bounded', async () => {
    const { verifier } = await setup({ tokenCacheSize: 3 });
    for (const token of await distinctTokens(rsa, 10)) await verifier.verify(token);
    expect(verifier.stats.cachedTokens).toBe(3);
    const off = (await setup({ tokenCacheSize: 0 })).verifier;
    const token = await signToken(rsa);
    await off.verify(token);
    expect(off.peek(token)).toBeUndefined();
  });

  it('a tampered copy of a cached token (same signature, so same tail) is not a hit', async () => {
    const { verifier } = await setup();
    const token = await signToken(rsa, { claims: { sub: 'victim', roles: ['user'] } });
    await verifier.verify(token);
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, roles: ['admin'] })).toString('base64url')}.${s}`;
    expect(forged.slice(-32)).toBe(token.slice(-32));
    expect(verifier.peek(forged)).toBeUndefined();
    await expect(verifier.verify(forged)).rejects.toMatchObject({ reason: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    // And the genuine token is still served from the cache afterwards.
    expect(verifier.peek(token)?.sub).toBe('victim');
  });

  it('refused tokens are never cached', async () => {
    const { verifier } = await setup();
    const wrongAudience = await signToken(rsa, { claims: { aud: 'other' } });
    await expect(verifier.verify(wrongAudience)).rejects.toBeInstanceOf(InvalidTokenError);
    expect(verifier.peek(wrongAudience)).toBeUndefined();
    expect(verifier.stats.cachedTokens).toBe(0);
  });

  it('evicts second-chance LRU: a recently hit entry survives, the idle one goes', () => {
    const cache = new TokenCache<string>(2);
    cache.set('a', 'A', 100);
    cache.set('b', 'B', 100);
    expect(cache.get('a', 0, 0)).toBe('A');
    cache.set('c', 'C', 100);
    expect(cache.get('b', 0, 0)).toBeUndefined();
    expect(cache.get('a', 0, 0)).toBe('A');
    expect(cache.get('c', 0, 0)).toBe('C');
    expect(cache.size).toBe(2);
  });
});
