/** Shared by the import tests: real hashes, fixture writers, an HTTP server on a given SQLite file. */
import { hash as argon2Hash } from '@node-rs/argon2';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import type { UserRecord } from '../../src/store/types.js';
import { createTestApp, type TestApp } from './helpers.js';

/** pwdlib's and passlib's (argon2-cffi's) defaults: `$argon2id$v=19$m=65536,t=3,p=4$...`. */
export function pwdlibArgon2(password: string): Promise<string> {
  return argon2Hash(password, { algorithm: 2, memoryCost: 65536, timeCost: 3, parallelism: 4 });
}

/** bcrypt at cost 10 (`$2b$`); `prefix` rewrites it to the identical `$2a$` or `$2y$` variant. */
export async function bcrypt(password: string, prefix: '$2a$' | '$2b$' | '$2y$' = '$2b$'): Promise<string> {
  const h = await bcryptHash(password, 10);
  return prefix + h.slice(4);
}

export function writeLines(dir: string, name: string, lines: unknown[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return path;
}

export function openDb(path: string): SqliteStore {
  const store = new SqliteStore(path);
  store.migrateSync();
  return store;
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function countUsers(store: SqliteStore): number {
  return store.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM users').get()!.n;
}

export async function allUsers(store: Pick<SqliteStore, 'listUsers'>): Promise<UserRecord[]> {
  const users: UserRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.listUsers({ cursor, limit: 100 });
    users.push(...page.users);
    cursor = page.nextCursor;
  } while (cursor);
  return users;
}

export interface HttpServer {
  url: string;
  app: TestApp;
  close(): Promise<void>;
}

/** The real app on the given SQLite file, listening on 127.0.0.1 with a free port. */
export async function serveOn(dbPath: string): Promise<HttpServer> {
  const app = await createTestApp({ DATABASE_URL: `sqlite:${dbPath}` });
  await app.app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return { url: `http://127.0.0.1:${address.port}`, app, close: () => app.close() };
}

export async function httpLogin(
  server: HttpServer,
  email: string,
  password: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Waits (without asserting any time) until the stored hash satisfies `ready`; the re-hash runs after the response. */
export async function waitForHash(store: SqliteStore, email: string, ready: (hash: string) => boolean): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const user = await store.findUserByEmail(email);
    if (user && ready(user.passwordHash)) return user.passwordHash;
    await new Promise((r) => setTimeout(r, 25));
  }
  const user = await store.findUserByEmail(email);
  return user?.passwordHash ?? '';
}

/** The hash the server writes with its default settings (ARGON2_* unset). */
export const CONFIGURED_ARGON2ID = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/;
