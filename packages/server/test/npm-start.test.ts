import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { http, pidAlive, requireBuild, SERVER_DIR } from './support/latchkey-process.js';
import { freePort } from '../../../scripts/lib/local-services.mjs';

const ROOT = join(SERVER_DIR, '..', '..');

// The README's first command ends in `npm start`; a process manager stops it with SIGTERM sent to
// npm. The server must get that signal (the script `exec`s node) and shut down gracefully,
// instead of living on as an orphan holding the port and the database.
describe('npm start', () => {
  it('passes SIGTERM to the server, which shuts down and frees its port', async () => {
    requireBuild();
    const { dir, cleanup } = tempDir();
    const port = await freePort();
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${join(dir, 'start.db')}`,
        MAIL_OUTBOX_DIR: join(dir, 'outbox'),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    npm.stdout.on('data', (c: Buffer) => (out += c.toString()));
    npm.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ready = await http(`${url}/health/ready`, { timeoutMs: 1000 }).catch(() => null);
      if (ready?.status === 200) break;
      if (Date.now() > deadline || npm.exitCode !== null) throw new Error(`npm start did not become ready:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const serverPid = Number(/"pid":(\d+)/.exec(out)?.[1]);
    expect(serverPid).toBeGreaterThan(0);
    // It runs with the Node options docs/deploy.md recommends (a capped young generation).
    if (process.platform === 'linux') {
      expect(readFileSync(`/proc/${serverPid}/cmdline`, 'utf8').split('\0')).toContain('--max-semi-space-size=8');
    }

    npm.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('"msg":"shutting down"');
    for (let i = 0; i < 50 && pidAlive(serverPid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(pidAlive(serverPid)).toBe(false);
    expect(await http(`${url}/health/live`, { timeoutMs: 1000 }).catch(() => 'refused')).toBe('refused');
    cleanup();
  }, 90_000);
});
