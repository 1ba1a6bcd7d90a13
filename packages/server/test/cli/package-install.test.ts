/**
 * The server package as a user gets it: `npm pack` of packages/server, installed from the
 * tarball into an empty folder (its own node_modules, nothing from this monorepo), and started
 * through the `latchkey` bin with REDIS_URL set. It catches a module the code imports at run
 * time but packages/server/package.json does not declare (ioredis was only in the root's
 * devDependencies: the installed server stopped at start-up with "Cannot find package 'ioredis'").
 *
 * Slow on purpose: npm builds better-sqlite3 from source when no prebuilt binary can be
 * downloaded (2.5-3 min on the 2-core test machine). The npm cache is the user's default one, so
 * the package tarballs themselves come from it after the first run (`--prefer-offline`).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { tempDir } from '../support/helpers.js';
import { http, requireBuild, SERVER_DIR, startServer, type ServerProcess } from '../support/latchkey-process.js';

const run = promisify(execFile);
const INSTALL_TIMEOUT_MS = 15 * 60_000;
/** A Redis database of its own on the shared test server, so that the keys seen are this server's. */
const REDIS_DB = 11;

function redisUrl(): string {
  const url = inject('redisUrl');
  if (!url) throw new Error(inject('redisError') || 'Redis is not available');
  return `${url}/${REDIS_DB}`;
}

/** Every .ts file under `dir`, recursively. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The packages the server's code loads at run time: static and dynamic imports, require.resolve; not `import type`. */
function runtimeImports(): Map<string, string> {
  const found = new Map<string, string>();
  const pattern = /^\s*import\s+(?!type\s)[^'"]*?from\s+'([^']+)'|import\('([^']+)'\)|require\.resolve\('([^']+)'\)/gm;
  for (const file of sourceFiles(join(SERVER_DIR, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(pattern)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      if (spec.startsWith('.') || spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      found.set(name, file.slice(SERVER_DIR.length + 1));
    }
  }
  return found;
}

describe('packages/server/package.json', () => {
  it('declares every package the server imports at run time', () => {
    const declared = Object.keys((JSON.parse(readFileSync(join(SERVER_DIR, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
    const imports = runtimeImports();
    // The scan itself works: it sees the static, the dynamic and the require.resolve imports.
    expect([...imports.keys()]).toEqual(expect.arrayContaining(['fastify', 'ioredis', '@node-rs/bcrypt']));
    const missing = [...imports].filter(([name]) => !declared.includes(name)).map(([name, file]) => `${name} (imported by ${file})`);
    expect(missing).toEqual([]);
  });
});

describe('the packed server package', () => {
  // Made in beforeAll, which a run filtered to the other describe skips (no empty directory left behind).
  let dir: { dir: string; cleanup: () => void } | undefined;
  let app = '';
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    requireBuild();
    dir = tempDir('latchkey-pack-');
    app = join(dir.dir, 'app');
    const packed = await run('npm', ['pack', '--silent', '--pack-destination', dir.dir], { cwd: SERVER_DIR });
    const tarball = join(dir.dir, packed.stdout.trim().split('\n').pop()!);
    mkdirSync(app);
    // An empty project that allows better-sqlite3's install script, as the README's root does.
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'pack-test', private: true, allowScripts: { 'better-sqlite3': true } }));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], {
      cwd: app,
      timeout: INSTALL_TIMEOUT_MS,
      maxBuffer: 64 * 1024 * 1024,
    });
  }, INSTALL_TIMEOUT_MS + 60_000);

  afterAll(async () => {
    await server?.stop();
    dir?.cleanup();
  });

  it('installs on its own and serves with REDIS_URL, counting in Redis', async () => {
    const { dir: root } = dir!;
    // Nothing resolved from the monorepo: the bin is the installed package's.
    expect(readdirSync(join(app, 'node_modules', '@latchkey'))).toEqual(['server']);
    const { Redis } = await import('ioredis');
    const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      await redis.flushdb();
      // Latchkey creates no directory but ./data of its working directory: this one is made here.
      mkdirSync(join(root, 'data'), { mode: 0o700 });
      server = await startServer(
        {
          DATABASE_URL: `sqlite:${join(root, 'data', 'latchkey.db')}`,
          MAIL_OUTBOX_DIR: join(root, 'outbox'),
          REDIS_URL: redisUrl(),
          RATE_LIMIT_ENABLED: 'true',
        },
        { cwd: app, command: { file: join(app, 'node_modules', '.bin', 'latchkey'), args: ['serve'] }, startTimeoutMs: 60_000 },
      );
      expect((await http(`${server.url}/health/ready`)).status).toBe(200);
      const credentials = { email: 'packed@example.com', password: 'correct horse battery staple' };
      expect((await http(`${server.url}/auth/register`, { json: credentials })).status).toBe(201);
      const login = await http(`${server.url}/auth/login`, { json: credentials });
      expect(login.status, login.body).toBe(200);
      expect(login.json()).toHaveProperty('access_token');
      // The rate-limit counters are in Redis: the register and login buckets of this client.
      expect(Number(await redis.get('latchkey:ip:register:127.0.0.1'))).toBe(1);
      expect(Number(await redis.get('latchkey:ip:login:127.0.0.1'))).toBe(1);
    } finally {
      await redis.flushdb();
      redis.disconnect();
    }
    expect(await server.stop()).toBe(0);
  });
});
