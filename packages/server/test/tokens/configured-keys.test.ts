import { createPublicKey, createSecretKey, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestApp, registerAndLogin, tempDir, type TestApp } from '../support/helpers.js';
import { runCli } from '../support/server-process.js';

const dir = tempDir('latchkey-keys-');
afterAll(() => dir.cleanup());

function pemFile(name: string, type: 'rsa' | 'ec' | 'ed25519', bits = 2048): { file: string; publicPem: string } {
  const { privateKey, publicKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: bits })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  const file = join(dir.dir, name);
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  return { file, publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string };
}

async function tokenOf(t: TestApp): Promise<string> {
  return (await registerAndLogin(t.app)).access;
}

describe('configured signing keys', () => {
  it.each([
    ['RS256', 'rsa'],
    ['ES256', 'ec'],
    ['EdDSA', 'ed25519'],
  ] as const)('%s from JWT_PRIVATE_KEY_FILE signs, is published, and is adopted once', async (alg, type) => {
    const key = pemFile(`${alg}.pem`, type);
    const db = `sqlite:${join(dir.dir, `${alg}.db`)}`;
    const a = await createTestApp({ JWT_ALG: alg, JWT_PRIVATE_KEY_FILE: key.file, DATABASE_URL: db });
    const b = await createTestApp({ JWT_ALG: alg, JWT_PRIVATE_KEY_FILE: key.file, DATABASE_URL: db });
    try {
      const token = await tokenOf(a);
      // Verifies with the public half of the file, outside Latchkey.
      const { protectedHeader } = await jwtVerify(token, createPublicKey(key.publicPem), { issuer: a.config.tokens.issuer, audience: a.config.tokens.audience });
      const jwks = (await a.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: Array<{ kid: string; d?: string }> };
      expect(jwks.keys.map((k) => k.kid)).toEqual([protectedHeader.kid]);
      expect(jwks.keys[0]!.d).toBeUndefined();
      // The second instance with the same file adopts nothing new.
      expect(await b.app.latchkey.store.listSigningKeys()).toHaveLength(1);
      expect(b.app.latchkey.keys.signingKey.kid).toBe(protectedHeader.kid);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a new key file retires the previous key, which stays published until its tokens expire', async () => {
    const db = `sqlite:${join(dir.dir, 'swap.db')}`;
    const first = pemFile('first.pem', 'rsa');
    const a = await createTestApp({ JWT_PRIVATE_KEY_FILE: first.file, DATABASE_URL: db });
    const oldToken = await tokenOf(a);
    await a.close();
    const second = pemFile('second.pem', 'rsa');
    const b = await createTestApp({ JWT_PRIVATE_KEY_FILE: second.file, DATABASE_URL: db });
    try {
      const newToken = await tokenOf(b);
      expect((await b.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json().keys).toHaveLength(2);
      await jwtVerify(newToken, createPublicKey(second.publicPem), { issuer: b.config.tokens.issuer, audience: b.config.tokens.audience });
      // The old token still works (its session is live, its key still verifies).
      expect((await b.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${oldToken}` } })).statusCode).toBe(200);
    } finally {
      await b.close();
    }
    // Going back to the first (now retired) key is refused with a clear message.
    await expect(createTestApp({ JWT_PRIVATE_KEY_FILE: first.file, DATABASE_URL: db })).rejects.toThrow(/was retired/);
  });

  it('refuses short RSA keys and files that are not keys, without echoing the content', async () => {
    const weak = pemFile('weak.pem', 'rsa', 1024);
    await expect(createTestApp({ JWT_PRIVATE_KEY_FILE: weak.file })).rejects.toThrow(/at least 2048 bits/);
    const junk = join(dir.dir, 'junk.pem');
    writeFileSync(junk, 'SECRET-LOOKING-CONTENT');
    const err = await createTestApp({ JWT_PRIVATE_KEY_FILE: junk }).catch((e: Error) => e);
    expect(String(err)).toMatch(/JWT_PRIVATE_KEY_FILE: not a PKCS#8 PEM private key/);
    expect(String(err)).not.toContain('SECRET-LOOKING-CONTENT');
    await expect(createTestApp({ JWT_PRIVATE_KEY_FILE: join(dir.dir, 'missing.pem') })).rejects.toThrow(/cannot read/);
    // An EC key where RS256 is configured.
    const ec = pemFile('ec-for-rsa.pem', 'ec');
    await expect(createTestApp({ JWT_PRIVATE_KEY_FILE: ec.file })).rejects.toThrow(/usable with RS256/);
  });

  it('HS256 with JWT_SECRET: tokens verify with that secret; nothing is published', async () => {
    const secret = 's'.repeat(20) + 'a-long-random-secret-value';
    const t = await createTestApp({ JWT_ALG: 'HS256', JWT_SECRET: secret });
    try {
      const token = await tokenOf(t);
      await jwtVerify(token, createSecretKey(Buffer.from(secret)), { issuer: t.config.tokens.issuer, audience: t.config.tokens.audience });
      expect((await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json().keys).toEqual([]);
      const kid = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;
      expect(kid).toMatch(/^hs256-[0-9a-f]{16}$/);
      expect(kid).not.toContain(secret.slice(0, 8));
    } finally {
      await t.close();
    }
  });

  it('validates the settings', async () => {
    await expect(createTestApp({ JWT_ALG: 'HS256', JWT_SECRET: 'too-short' })).rejects.toThrow(/JWT_SECRET: must be at least 32/);
    await expect(createTestApp({ JWT_SECRET: 'x'.repeat(40) })).rejects.toThrow(/JWT_SECRET: is only used with JWT_ALG=HS256/);
    await expect(createTestApp({ JWT_ALG: 'HS256', JWT_PRIVATE_KEY_FILE: '/x.pem' })).rejects.toThrow(/JWT_PRIVATE_KEY_FILE/);
  });

  it('latchkey keys rotate refuses while the key is configured', async () => {
    const key = pemFile('cli.pem', 'rsa');
    const r = await runCli(['keys', 'rotate'], { DATABASE_URL: `sqlite:${join(dir.dir, 'cli.db')}`, JWT_PRIVATE_KEY_FILE: key.file });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('configured');
  });
});
