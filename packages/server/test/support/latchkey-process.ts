/**
 * Black-box helpers: start the real `latchkey` CLI (packages/server/bin/latchkey.js, which runs
 * the build in dist/) as a child process, and talk to it over real HTTP connections.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../../scripts/lib/local-services.mjs';

export const SERVER_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(SERVER_DIR, 'bin', 'latchkey.js');

/** True while a process with this pid exists (signal 0 only checks). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Fails with a clear message when the build that the CLI runs is missing. */
export function requireBuild(): void {
  if (!existsSync(join(SERVER_DIR, 'dist', 'cli.js'))) {
    throw new Error('packages/server/dist is missing: run `npm run build` first (npm test does)');
  }
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

/**
 * One HTTP request on its own connection (no keep-alive), so that successive requests are
 * balanced independently (cluster workers, nginx). Rejects only on a network error.
 */
export function http(
  url: string,
  options: { method?: string; headers?: Record<string, string>; json?: unknown; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const body = options.json === undefined ? undefined : JSON.stringify(options.json);
    const headers: Record<string, string> = { ...options.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const req = request(url, { method: options.method ?? (body ? 'POST' : 'GET'), headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: text,
          json: <T>() => JSON.parse(text) as T,
        });
      });
      res.on('error', reject);
    });
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** True while the process has not exited. */
  alive(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null if killed by a signal). */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Starts `latchkey <args>` (default `serve`) on 127.0.0.1:<free port> with `env` added to the
 * environment, and waits until /health/live answers (at most `startTimeoutMs`). `command`
 * starts it another way instead (e.g. `npm start`); `stop()` then signals that process.
 */
export async function startServer(
  env: Record<string, string>,
  options: { args?: string[]; startTimeoutMs?: number; cwd?: string; command?: { file: string; args: string[] } } = {},
): Promise<ServerProcess> {
  requireBuild();
  const port = env.PORT ? Number(env.PORT) : await freePort();
  // Its own working directory, so that relative defaults (./data, the mail outbox) stay out of the repository.
  const cwd = options.cwd ?? mkdtempSync(join(tmpdir(), 'latchkey-proc-'));
  const { file, args } = options.command ?? { file: process.execPath, args: [CLI, ...(options.args ?? ['serve'])] };
  const child = spawn(file, args, {
    cwd,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_ENABLED: 'false',
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const server: ServerProcess = {
    url,
    port,
    child,
    output: () => out,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop(graceMs = 10_000) {
      if (!server.alive()) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      if (!options.cwd) rmSync(cwd, { recursive: true, force: true });
      return code;
    },
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (!server.alive()) throw new Error(`latchkey exited during start-up (code ${child.exitCode}):\n${out}`);
    const live = await http(`${url}/health/live`, { timeoutMs: 1000 }).catch(() => null);
    if (live?.status === 200) return server;
    if (Date.now() > deadline) {
      await server.stop(1000);
      throw new Error(`latchkey did not answer /health/live within the start-up budget:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
