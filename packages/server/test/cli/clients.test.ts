/**
 * `latchkey clients ...` through the real binary on a SQLite file: create prints the client_id
 * and the secret once (only its SHA-256 is stored), list never shows it, rotate-secret replaces
 * it, delete takes the grants along; the rules of the admin API refuse the same input here, and
 * every change is an audit entry of the `cli` actor without the secret.
 */
import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { requireBuild } from '../support/latchkey-process.js';
import { tempDir } from '../support/helpers.js';
import { runCli } from '../support/server-process.js';

let work: { dir: string; cleanup: () => void };
beforeAll(() => {
  requireBuild();
  work = tempDir('latchkey-cli-clients-');
});
afterAll(() => work.cleanup());

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

async function withStore<T>(file: string, fn: (store: SqliteStore) => Promise<T>): Promise<T> {
  const store = new SqliteStore(file);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

describe('latchkey clients', () => {
  it('creates (printing the secret once), lists, rotates and deletes, with audit entries and no secret in them', async () => {
    const file = join(work.dir, 'clients.db');
    const env = { DATABASE_URL: `sqlite:${file}`, OAUTH_SCOPES: 'orders:read' };
    const created = await runCli(
      ['clients', 'create', '--name', 'Acme CRM', '--redirect-uri', 'https://crm.example/cb', '--redirect-uri', 'http://localhost:3000/cb', '--scope', 'openid email', '--scope', 'orders:read'],
      env,
    );
    expect(created.code, created.stderr).toBe(0);
    const id = /client_id: (\S+)/.exec(created.stdout)![1]!;
    const secret = /client_secret \(shown once, keep it for the app\): (lks_[A-Za-z0-9_-]{43})$/m.exec(created.stdout)![1]!;
    await withStore(file, async (store) => {
      const c = (await store.findOAuthClient(id))!;
      expect(c.secretHash).toBe(sha256(secret));
      expect(c.metadata).toMatchObject({ redirect_uris: ['https://crm.example/cb', 'http://localhost:3000/cb'], scope: 'openid email orders:read', token_endpoint_auth_method: 'client_secret_basic' });
    });

    const pub = await runCli(['clients', 'create', '--name', 'Acme app', '--public', '--first-party', '--redirect-uri', 'com.acme.app:/cb'], env);
    expect(pub.code, pub.stderr).toBe(0);
    expect(pub.stdout).toContain('no secret: a public client proves itself with PKCE');
    const pubId = /client_id: (\S+)/.exec(pub.stdout)![1]!;

    const list = await runCli(['clients', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`${id}\tAcme CRM\tconfidential\tauthorization_code,refresh_token\thttps://crm.example/cb http://localhost:3000/cb\t`);
    expect(list.stdout).toContain(`${pubId}\tAcme app\tpublic, first-party\t`);
    expect(list.stdout + list.stderr).not.toContain(secret.slice(4));

    const rotated = await runCli(['clients', 'rotate-secret', id], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    const next = /new client_secret \(shown once; the old one no longer works\): (lks_\S+)/.exec(rotated.stdout)![1]!;
    expect(next).not.toBe(secret);
    await withStore(file, async (store) => expect((await store.findOAuthClient(id))!.secretHash).toBe(sha256(next)));
    const noSecret = await runCli(['clients', 'rotate-secret', pubId], env);
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr).toContain('it has no secret to rotate');

    // Deleting takes the client's grants along.
    await withStore(file, async (store) => {
      const user = await store.createUser({ id: randomUUID(), email: 'grant@example.com', name: null, passwordHash: 'x', roles: [], emailVerified: true, createdAt: Date.now() });
      const grantId = randomUUID();
      await store.upsertOAuthPayload({ model: 'Grant', id: grantId, payload: { jti: grantId, openid: { scope: 'openid' } }, grantId, userCode: null, uid: null, accountId: user!.id, clientId: id, expiresAt: null, consumedAt: null });
    });
    expect((await runCli(['clients', 'delete', id], env)).stdout).toContain(`client ${id} deleted with its grants and tokens`);
    const again = await runCli(['clients', 'delete', id], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('No such OAuth client');

    await withStore(file, async (store) => {
      const grants = await store.listOAuthGrantsForClient(id, { limit: 10 }, Date.now());
      expect(grants.grants).toEqual([]);
      const entries = await store.listAudit({ actor: null, action: null, target: id, since: null, until: null, before: null, limit: 10 });
      expect(entries.map((e) => e.action).reverse()).toEqual(['admin.oauth_client.created', 'admin.oauth_client.secret_rotated', 'admin.oauth_client.deleted']);
      for (const e of entries) expect(e.actorType).toBe('cli');
      expect(entries.at(-1)!.changes).toMatchObject({ name: { from: null, to: 'Acme CRM' }, secret: { set: true } });
      const text = JSON.stringify(entries);
      for (const s of [secret, next, sha256(secret), sha256(next)]) expect(text).not.toContain(s);
    });
  });

  it('refuses what the admin API refuses, and stores nothing', async () => {
    const file = join(work.dir, 'refused.db');
    const env = { DATABASE_URL: `sqlite:${file}` };
    const refusals: Array<[string[], RegExp]> = [
      [['--redirect-uri', 'http://crm.example/cb'], /must use https/],
      [['--redirect-uri', 'https://crm.example/cb#x'], /fragment/],
      [['--redirect-uri', 'com.acme.app:/cb'], /only for public clients/],
      [['--redirect-uri', 'https://crm.example/cb', '--scope', 'orders:read'], /"orders:read" is not a scope of this server/],
      [['--public', '--redirect-uri', 'https://crm.example/cb', '--grant', 'client_credentials'], /client_credentials is only for confidential clients/],
      [['--redirect-uri', 'https://crm.example/cb', '--grant', 'password'], /grant_types\[0\] must be one of/],
    ];
    for (const [args, message] of refusals) {
      const r = await runCli(['clients', 'create', '--name', 'Bad', ...args], env);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    const missing = await runCli(['clients', 'create', '--redirect-uri', 'https://crm.example/cb'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('--name is required');
    expect((await runCli(['clients', 'list'], env)).stdout).toContain('no OAuth clients yet');
  });
});
