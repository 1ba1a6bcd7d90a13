/**
 * KEY_ENCRYPTION_KEY on both adapters: the private signing keys are stored sealed (AES-256-GCM,
 * lib/secret-box.ts), plaintext keys of an existing database are sealed at start-up, and a
 * server that cannot decrypt them stops with a message naming KEY_ENCRYPTION_KEY — never a stack,
 * never a silently regenerated key. The raw column is read with the database's own client.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { keyIdOf, sealedKeyId } from '../../src/lib/secret-box.js';
import type { SigningKeyRecord } from '../../src/store/types.js';
import { openPrivateJwk, secretBoxFor } from '../../src/tokens/keys.js';
import { bearer, createTestApp, registerAndLogin, tempDir, type TestApp } from '../support/helpers.js';
import { startServer } from '../support/server-process.js';
import { createTestDatabase, dropTestDatabase } from '../support/postgres.js';

const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('hex');

interface RawKey {
  kid: string;
  private_jwk: string;
}

/** What docs/deploy.md says to do after losing the key: delete the stored signing keys. */
async function deleteKeys(databaseUrl: string): Promise<void> {
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new Database(databaseUrl.slice('sqlite:'.length));
    db.exec('DELETE FROM signing_keys');
    db.close();
    return;
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query('DELETE FROM signing_keys');
  await client.end();
}

async function rawKeys(databaseUrl: string): Promise<RawKey[]> {
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new Database(databaseUrl.slice('sqlite:'.length), { readonly: true });
    try {
      return db.prepare<[], RawKey>('SELECT kid, private_jwk FROM signing_keys ORDER BY created_at, kid').all();
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<RawKey>('SELECT kid, private_jwk FROM signing_keys ORDER BY created_at, kid')).rows;
  } finally {
    await client.end();
  }
}

/** The private scalar(s) of every key, decrypted the way the server does. */
function privateParts(rows: RawKey[], env: Record<string, string>): string[] {
  const box = secretBoxFor(loadConfig(env).tokens);
  return rows.flatMap((r) => {
    const jwk = JSON.parse(openPrivateJwk(box, { kid: r.kid, privateJwk: r.private_jwk } as SigningKeyRecord)) as Record<string, string>;
    return [jwk.d, jwk.p, jwk.q, jwk.k].filter((v): v is string => typeof v === 'string');
  });
}

describe.each(['sqlite', 'postgres'] as const)('KEY_ENCRYPTION_KEY on %s', (adapter) => {
  const dir = tempDir(`latchkey-kek-${adapter}-`);
  const databases: string[] = [];
  afterAll(async () => {
    for (const url of databases) await dropTestDatabase(url);
    dir.cleanup();
  });

  async function newDatabase(name: string): Promise<string> {
    if (adapter === 'sqlite') return `sqlite:${join(dir.dir, `${name}.db`)}`;
    const url = await createTestDatabase();
    databases.push(url);
    return url;
  }

  async function app(url: string, env: Record<string, string> = {}): Promise<TestApp> {
    return createTestApp({ DATABASE_URL: url, ...env });
  }

  it('stores new keys sealed; a restart with the key works; without it or with another one start-up stops clearly', async () => {
    const url = await newDatabase('sealed');
    const first = await app(url, { KEY_ENCRYPTION_KEY: K1 });
    const user = await registerAndLogin(first.app);
    const kid = first.app.latchkey.keys.signingKey.kid;
    await first.close();

    const rows = await rawKeys(url);
    expect(rows.map((r) => r.kid)).toEqual([kid]);
    expect(rows[0]!.private_jwk).toMatch(/^lk1:/);
    expect(sealedKeyId(rows[0]!.private_jwk)).toBe(keyIdOf(Buffer.from(K1, 'base64')));
    // None of the private material is in the column: not the JWK members, not their values.
    const secrets = privateParts(rows, { KEY_ENCRYPTION_KEY: K1 });
    expect(secrets.length).toBeGreaterThanOrEqual(3); // RSA: d, p, q
    for (const secret of secrets) expect(rows[0]!.private_jwk).not.toContain(secret);
    expect(rows[0]!.private_jwk).not.toMatch(/"d"|"kty"|PRIVATE KEY/);

    // Restart with the key: the same key signs, and the token made before still works.
    const again = await app(url, { KEY_ENCRYPTION_KEY: K1 });
    try {
      expect(again.app.latchkey.keys.signingKey.kid).toBe(kid);
      expect((await again.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(user.access) })).statusCode).toBe(200);
      await registerAndLogin(again.app);
    } finally {
      await again.close();
    }

    await expect(app(url)).rejects.toThrow(`signing key ${kid}: encrypted at rest (key id ${keyIdOf(Buffer.from(K1, 'base64'))}) but KEY_ENCRYPTION_KEY is not set`);
    await expect(app(url, { KEY_ENCRYPTION_KEY: K2 })).rejects.toThrow(/encrypted with another KEY_ENCRYPTION_KEY/);
    // Nothing was regenerated or rewritten by the failed starts.
    expect(await rawKeys(url)).toEqual(rows);

    // The real CLI: one line naming the variable, exit 1, no stack trace.
    for (const env of [{}, { KEY_ENCRYPTION_KEY: K2 }] as Array<Record<string, string>>) {
      const failed = await startServer({ DATABASE_URL: url, MAIL_OUTBOX_DIR: join(dir.dir, 'outbox'), ...env }, { cwd: dir.dir }).then(
        () => 'started',
        (err: Error) => err.message,
      );
      expect(failed).toMatch(/latchkey: signing key \S+: encrypted .*KEY_ENCRYPTION_KEY/);
      expect(failed).not.toMatch(/^\s+at /m);
    }
    expect(await rawKeys(url)).toEqual(rows);

    // The key is lost: deleting the stored keys lets the server start with a new one; the old
    // access token no longer verifies, the refresh token still gives a new one.
    await deleteKeys(url);
    const fresh = await app(url);
    try {
      expect(fresh.app.latchkey.keys.signingKey.kid).not.toBe(kid);
      expect((await fresh.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(user.access) })).statusCode).toBe(401);
      const refreshed = await fresh.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: user.refresh } });
      expect(refreshed.statusCode, refreshed.body).toBe(200);
      const me = await fresh.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(refreshed.json().access_token as string) });
      expect(me.statusCode).toBe(200);
    } finally {
      await fresh.close();
    }
  });

  it('seals the plaintext keys of an existing database at start-up, re-seals on rotation, unseals when turned off', async () => {
    const url = await newDatabase('upgrade');
    const plain = await app(url);
    const user = await registerAndLogin(plain.app);
    await plain.app.latchkey.keys.rotate(); // two keys: a retired one and the active one
    await plain.close();
    const before = await rawKeys(url);
    expect(before).toHaveLength(2);
    for (const r of before) expect(r.private_jwk).toMatch(/^\{"/);
    const secrets = privateParts(before, {});

    const sealed = await app(url, { KEY_ENCRYPTION_KEY: K1 });
    await sealed.close();
    const after = await rawKeys(url);
    expect(after.map((r) => r.kid)).toEqual(before.map((r) => r.kid));
    for (const r of after) {
      expect(sealedKeyId(r.private_jwk)).toBe(keyIdOf(Buffer.from(K1, 'base64')));
      for (const secret of secrets) expect(r.private_jwk).not.toContain(secret);
    }
    expect(privateParts(after, { KEY_ENCRYPTION_KEY: K1 })).toEqual(secrets);

    // Rotation of the encryption key: the new key, the old one to decrypt.
    const rotating = await app(url, { KEY_ENCRYPTION_KEY: K2, KEY_ENCRYPTION_KEY_PREVIOUS: K1 });
    await rotating.close();
    const rotated = await rawKeys(url);
    for (const r of rotated) expect(sealedKeyId(r.private_jwk)).toBe(keyIdOf(Buffer.from(K2, 'hex')));
    const onlyNew = await app(url, { KEY_ENCRYPTION_KEY: K2 });
    try {
      expect((await onlyNew.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(user.access) })).statusCode).toBe(200);
    } finally {
      await onlyNew.close();
    }

    // Turning it off: the last key as a previous one only; the keys are written back in plaintext.
    const off = await app(url, { KEY_ENCRYPTION_KEY_PREVIOUS: K2 });
    await off.close();
    const unsealed = await rawKeys(url);
    expect(unsealed.map((r) => r.private_jwk)).toEqual(before.map((r) => r.private_jwk));
  });
});
