import { calculateJwkThumbprint, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { generateKeyPairAhead, takeKeyPairAhead } from '../../src/tokens/key-pair-ahead.js';
import { generateSigningKey } from '../../src/tokens/keys.js';

describe('a key pair generated ahead (latchkey serve on a new database)', () => {
  it.each(['RS256', 'ES256', 'EdDSA'] as const)('%s: generateSigningKey takes it once, and the record signs and verifies', async (alg) => {
    generateKeyPairAhead(alg);
    const record = await generateSigningKey(alg, 1000);
    // Taken: nothing is left for the next key (a rotation makes a fresh one).
    expect(takeKeyPairAhead(alg)).toBeUndefined();
    const publicJwk = JSON.parse(record.publicJwk!) as JWK;
    const privateJwk = JSON.parse(record.privateJwk) as JWK;
    expect(publicJwk).toMatchObject({ kid: record.kid, alg, use: 'sig' });
    expect(publicJwk.d).toBeUndefined();
    const { kid: _kid, alg: _alg, use: _use, ...bare } = publicJwk;
    expect(record.kid).toBe(await calculateJwkThumbprint(bare));
    const joseAlg = alg === 'EdDSA' ? 'Ed25519' : alg;
    const jwt = await new SignJWT({ sub: 'u' }).setProtectedHeader({ alg: joseAlg, kid: record.kid }).sign(await importJWK(privateJwk, joseAlg));
    const { payload } = await jwtVerify(jwt, await importJWK(publicJwk, joseAlg), { algorithms: [joseAlg] });
    expect(payload.sub).toBe('u');
  });

  it('is only taken for its own algorithm, and never for HS256', async () => {
    generateKeyPairAhead('ES256');
    expect(takeKeyPairAhead('RS256')).toBeUndefined();
    const pair = await takeKeyPairAhead('ES256');
    expect(pair?.publicKey.asymmetricKeyType).toBe('ec');
    generateKeyPairAhead('HS256');
    expect(takeKeyPairAhead('HS256')).toBeUndefined();
  });

  it('two keys made without one ahead differ from each other (no pair is reused)', async () => {
    generateKeyPairAhead('ES256');
    const a = await generateSigningKey('ES256', 1);
    const b = await generateSigningKey('ES256', 2);
    expect(a.kid).not.toBe(b.kid);
  });
});
