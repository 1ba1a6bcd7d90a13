/**
 * `latchkey users ...` and `latchkey webhooks create|rotate-secret|delete` write the audit log with actor type `cli` (the operating-system user as its
 * id): the real binary (dist/) on a SQLite file, the entries read back through the store.
 */
import { spawn } from 'node:child_process';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { CLI, requireBuild } from '../support/latchkey-process.js';
import { tempDir } from '../support/helpers.js';

const PASSWORD = 'correct horse battery staple';

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end('');
  });
}

let work: { dir: string; cleanup: () => void };
beforeAll(() => {
  requireBuild();
  work = tempDir('latchkey-cli-audit-');
});
afterAll(() => work.cleanup());

describe('latchkey users and the audit log', () => {
  it('create, set-roles, disable, reset-password and delete each write one `cli` entry with its changes, never the password', async () => {
    const db = join(work.dir, 'cli.db');
    const env = { DATABASE_URL: `sqlite:${db}`, LOG_LEVEL: 'silent', LATCHKEY_PASSWORD: PASSWORD };
    for (const args of [
      ['users', 'create', '--email', 'ann@example.com', '--role', 'editor'],
      ['users', 'set-roles', 'ann@example.com', 'editor', 'billing'],
      ['users', 'set-roles', 'ann@example.com', 'editor', 'billing'], // the same roles: no entry
      ['users', 'disable', 'ann@example.com'],
      ['users', 'reset-password', 'ann@example.com'],
      ['users', 'delete', 'ann@example.com', '--yes'],
    ]) {
      const res = await run(args, env);
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(0);
    }
    const store = new SqliteStore(db);
    try {
      const rows = (await store.listAudit({ actor: null, action: null, target: null, since: null, until: null, before: null, limit: 50 })).reverse();
      expect(rows.map((r) => r.action)).toEqual(['admin.user.created', 'admin.user.updated', 'admin.user.updated', 'admin.user.password_reset', 'admin.user.deleted']);
      for (const r of rows) {
        expect(r).toMatchObject({ actorType: 'cli', actorId: userInfo().username, actorEmail: null, targetType: 'user', userAgent: 'latchkey-cli', ip: null, requestId: null });
      }
      expect(rows[1]!.changes).toEqual({ roles: { from: ['editor'], to: ['editor', 'billing'] } });
      expect(rows[2]!.changes).toEqual({ disabled: { from: false, to: true } });
      expect(rows[3]!.changes).toEqual({ password: { changed: true }, sessions_revoked: 0 });
      expect(rows[4]!.changes).toEqual({ email: { from: 'ann@example.com', to: null }, roles: { from: ['editor', 'billing'], to: null } });
      expect(JSON.stringify(rows)).not.toContain(PASSWORD);
    } finally {
      await store.close();
    }
  });

  it('an import (not a dry run) writes one `admin.users.imported` entry with its counts', async () => {
    const source = join(work.dir, 'source.db');
    const target = join(work.dir, 'target.db');
    const file = join(work.dir, 'users.jsonl');
    const env = { LOG_LEVEL: 'silent', LATCHKEY_PASSWORD: PASSWORD };
    for (const email of ['a@example.com', 'b@example.com']) {
      expect((await run(['users', 'create', '--email', email], { ...env, DATABASE_URL: `sqlite:${source}` })).code).toBe(0);
    }
    expect((await run(['users', 'export', '--format', 'jsonl', '--output', file, '--quiet'], { ...env, DATABASE_URL: `sqlite:${source}` })).code).toBe(0);
    expect((await run(['users', 'import', file, '--format', 'jsonl', '--dry-run', '--quiet'], { ...env, DATABASE_URL: `sqlite:${target}` })).code).toBe(0);
    const res = await run(['users', 'import', file, '--format', 'jsonl', '--quiet'], { ...env, DATABASE_URL: `sqlite:${target}` });
    expect(res.code, res.stderr).toBe(0);
    const store = new SqliteStore(target);
    try {
      const rows = await store.listAudit({ actor: null, action: null, target: null, since: null, until: null, before: null, limit: 10 });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        actorType: 'cli',
        action: 'admin.users.imported',
        targetType: null,
        changes: { file: 'users.jsonl', format: 'jsonl', on_conflict: 'skip', imported: 2, updated: 0, skipped: 0, failed: 0 },
      });
    } finally {
      await store.close();
    }
  });

  it('latchkey webhooks create, rotate-secret and delete each write one `cli` entry, never the secret', async () => {
    const db = join(work.dir, 'hooks.db');
    const env = { DATABASE_URL: `sqlite:${db}`, LOG_LEVEL: 'silent', WEBHOOK_ALLOW_PRIVATE: 'true' };
    const created = await run(['webhooks', 'create', '--url', 'http://127.0.0.1:9/hook', '--events', 'user.created'], env);
    expect(created.code, created.stderr).toBe(0);
    const id = /endpoint (\S+) created/.exec(created.stdout)![1]!;
    const secret = /whsec_\S+/.exec(created.stdout)![0];
    const rotated = await run(['webhooks', 'rotate-secret', id], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect((await run(['webhooks', 'delete', id], env)).code).toBe(0);
    const store = new SqliteStore(db);
    try {
      const rows = (await store.listAudit({ actor: null, action: null, target: id, since: null, until: null, before: null, limit: 10 })).reverse();
      expect(rows.map((r) => r.action)).toEqual(['admin.webhook.created', 'admin.webhook.secret_rotated', 'admin.webhook.deleted']);
      for (const r of rows) expect(r).toMatchObject({ actorType: 'cli', actorId: userInfo().username, targetType: 'webhook', targetId: id });
      expect(rows[0]!.changes).toMatchObject({ url: { from: null, to: 'http://127.0.0.1:9/hook' }, secret: { set: true } });
      const text = JSON.stringify(rows);
      expect(text).not.toContain(secret);
      expect(text).not.toContain('whsec_');
    } finally {
      await store.close();
    }
  });
});
