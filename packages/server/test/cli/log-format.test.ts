/**
 * LOG_FORMAT through the real process: `pretty` writes one readable line per event (time, level,
 * message, key=value fields), the access lines too, for `serve` and `serve --workers`, with
 * the secrets of a request nowhere in the output; `json` stays one JSON object per line; a value
 * that is neither stops start-up naming the variable.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/helpers.js';
import { CLI, http, requireBuild, startServer } from '../support/latchkey-process.js';

const PASSWORD = 'correct-horse-battery-77';
const WRONG = 'wrong-horse-secret-4242';

const TIME = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}`;

let work: { dir: string; cleanup: () => void };
beforeAll(() => {
  requireBuild();
  work = tempDir('latchkey-logformat-');
});
afterAll(() => work.cleanup());

/** A database of its own for each start (a retried test starts again on an empty one). */
let starts = 0;
const freshDatabase = () => `sqlite:${join(work.dir, `logs-${++starts}.db`)}`;

/** Registers, fails a login, signs in and calls /auth/me: passwords and tokens in bodies, headers, a query. */
async function exercise(url: string, email: string): Promise<string[]> {
  expect((await http(`${url}/auth/register`, { json: { email, password: PASSWORD } })).status).toBe(201);
  expect((await http(`${url}/auth/login?password=${WRONG}`, { json: { email, password: WRONG } })).status).toBe(400);
  const login = await http(`${url}/auth/login`, { json: { email, password: PASSWORD } });
  expect(login.status).toBe(200);
  const { access_token, refresh_token } = login.json<{ access_token: string; refresh_token: string }>();
  expect((await http(`${url}/auth/me`, { headers: { authorization: `Bearer ${access_token}`, 'x-forwarded-for': '203.0.113.7' } })).status).toBe(200);
  return [PASSWORD, WRONG, access_token, refresh_token];
}

describe('LOG_FORMAT', () => {
  it('pretty: a readable line per event, the access lines too, and no secret anywhere', async () => {
    const server = await startServer({ DATABASE_URL: freshDatabase(), LOG_FORMAT: 'pretty', LOG_LEVEL: 'info', MAIL_OUTBOX_DIR: join(work.dir, 'outbox') });
    const secrets = await exercise(server.url, 'pretty@example.com');
    expect(await server.stop()).toBe(0);
    const lines = server.output().trimEnd().split('\n');
    // Not one JSON line.
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
    const out = lines.join('\n');
    expect(out).toMatch(new RegExp(`^${TIME} INFO  Server listening at http://127\\.0\\.0\\.1:\\d+$`, 'm'));
    expect(out).toMatch(new RegExp(`^${TIME} INFO  request reqId=[0-9a-f-]{36} method=POST path=/auth/login status=400 ms=[\\d.]+ ip=127\\.0\\.0\\.1$`, 'm'));
    expect(out).toMatch(new RegExp(`^${TIME} INFO  request reqId=[0-9a-f-]{36} method=GET path=/auth/me status=200 ms=[\\d.]+ ip=127\\.0\\.0\\.1$`, 'm'));
    // A warning, with its message as written and its field after it.
    expect(out).toMatch(new RegExp(`^${TIME} WARN  a request came through a proxy \\(X-Forwarded-For or Forwarded\\) but TRUST_PROXY is not set: .* ip=127\\.0\\.0\\.1$`, 'm'));
    expect(out).toMatch(new RegExp(`^${TIME} INFO  shutting down signal=SIGTERM `, 'm'));
    for (const secret of secrets) expect(out).not.toContain(secret);
  });

  it('pretty under serve --workers: every worker writes readable lines, with its pid', async () => {
    const server = await startServer(
      { DATABASE_URL: freshDatabase(), LOG_FORMAT: 'pretty', LOG_LEVEL: 'info', MAIL_OUTBOX_DIR: join(work.dir, 'outbox') },
      { args: ['serve', '--workers', '2'] },
    );
    const secrets = await exercise(server.url, 'workers@example.com');
    expect(await server.stop()).toBe(0);
    const out = server.output();
    expect(out.split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
    expect(out).toMatch(new RegExp(`^${TIME} INFO  starting workers workers=2 `, 'm'));
    expect(out).toMatch(new RegExp(`^${TIME} INFO  \\[\\d+\\] request reqId=\\S+ method=POST path=/auth/login status=400 `, 'm'));
    for (const secret of secrets) expect(out).not.toContain(secret);
  });

  it('json: one JSON object per line, as before', async () => {
    const server = await startServer({ DATABASE_URL: freshDatabase(), LOG_FORMAT: 'json', LOG_LEVEL: 'info', MAIL_OUTBOX_DIR: join(work.dir, 'outbox') });
    const secrets = await exercise(server.url, 'json@example.com');
    expect(await server.stop()).toBe(0);
    const lines = server.output().trimEnd().split('\n');
    const parsed = lines.map((l) => JSON.parse(l) as { msg: string; path?: string; status?: number });
    expect(parsed).toContainEqual(expect.objectContaining({ msg: 'request', path: '/auth/login', status: 400 }));
    for (const secret of secrets) expect(lines.join('\n')).not.toContain(secret);
  });

  it('a value that is neither stops start-up naming LOG_FORMAT', () => {
    const run = spawnSync(process.execPath, [CLI, 'serve'], {
      cwd: work.dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DATABASE_URL: `sqlite:${join(work.dir, 'bogus.db')}`, LOG_FORMAT: 'bogus' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('LOG_FORMAT');
    expect(run.stderr).toContain('bogus');
  });
});
