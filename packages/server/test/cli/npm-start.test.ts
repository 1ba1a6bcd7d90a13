import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/helpers.js';
import { http, pidAlive, SERVER_DIR, startServer } from '../support/latchkey-process.js';

const ROOT = join(SERVER_DIR, '..', '..');

// The README's first command ends in `npm start`; a process manager stops it with SIGTERM sent to
// npm. The server must get that signal (the script `exec`s node) and shut down gracefully,
// instead of living on as an orphan holding the port and the database.
describe('npm start', () => {
  it('passes SIGTERM to the server, which shuts down and frees its port', async () => {
    const { dir, cleanup } = tempDir();
    const server = await startServer(
      // MALLOC_ARENA_MAX empty: the script's default applies, whatever this environment holds.
      { DATABASE_URL: `sqlite:${join(dir, 'start.db')}`, MAIL_OUTBOX_DIR: join(dir, 'outbox'), LOG_LEVEL: 'info', MALLOC_ARENA_MAX: '' },
      { cwd: ROOT, command: { file: 'npm', args: ['start', '--silent'] }, startTimeoutMs: 60_000 },
    );
    expect((await http(`${server.url}/health/ready`)).status).toBe(200);
    const serverPid = Number(/"pid":(\d+)/.exec(server.output())?.[1]);
    expect(serverPid).toBeGreaterThan(0);
    expect(serverPid).not.toBe(server.child.pid); // npm's child, not npm
    // It runs with the Node option and the environment docs/deploy.md recommends: a capped young
    // generation, two glibc malloc arenas.
    if (process.platform === 'linux') {
      expect(readFileSync(`/proc/${serverPid}/cmdline`, 'utf8').split('\0')).toContain('--max-semi-space-size=8');
      expect(readFileSync(`/proc/${serverPid}/environ`, 'utf8').split('\0')).toContain('MALLOC_ARENA_MAX=2');
    }

    expect(await server.stop()).toBe(0); // SIGTERM to npm
    expect(server.output()).toContain('"msg":"shutting down"');
    for (let i = 0; i < 50 && pidAlive(serverPid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(pidAlive(serverPid)).toBe(false);
    expect(await http(`${server.url}/health/live`, { timeoutMs: 1000 }).catch(() => 'refused')).toBe('refused');
    cleanup();
  }, 90_000);
});
