/**
 * Several instances: `scripts/cluster-demo.mjs` (npm run cluster:demo) starts three real
 * `latchkey serve` processes at once on one PostgreSQL database, behind Debian's nginx as a
 * round-robin load balancer on 127.0.0.1. Over real HTTP this file checks that
 * - nginx spreads requests over all three instances;
 * - a token issued through one instance works on the others;
 * - a logout through one is effective on the others at once;
 * - a refresh token rotated through one and replayed through another after the grace window
 *   (REFRESH_GRACE=1s here) is refused as reuse and revokes the session everywhere;
 * - after `latchkey keys rotate`, every instance signs with the new key and serves the same JWKS
 *   within the documented delay, KEY_RELOAD_INTERVAL (2s here), polled with bounded slack.
 * Finally SIGTERM to the demo stops nginx and the instances.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  balancing,
  keyRotationConverges,
  logoutIsEverywhere,
  replayAfterGraceRevokes,
  tokenWorksEverywhere,
  type ClusterInfo,
} from '../../../../scripts/lib/cluster-walkthrough.mjs';
import { CLI, pidAlive, requireBuild, SERVER_DIR } from '../support/latchkey-process.js';
import { createTestDatabase } from '../support/postgres.js';

const DEMO = join(SERVER_DIR, '..', '..', 'scripts', 'cluster-demo.mjs');
const GRACE_MS = 1000;
const RELOAD_MS = 2000;

interface Ready extends ClusterInfo {
  databaseUrl: string;
  nginxPid: number;
  instances: { name: string; url: string; pid: number }[];
}

let demo: ChildProcess;
let output = '';
let cluster: Ready;
let exited: Promise<number | null>;

beforeAll(async () => {
  requireBuild();
  const databaseUrl = await createTestDatabase('latchkey_multi');
  demo = spawn(process.execPath, [DEMO, '--no-walkthrough'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, REFRESH_GRACE: `${GRACE_MS}ms`, KEY_RELOAD_INTERVAL: `${RELOAD_MS}ms`, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  exited = new Promise((resolve) => demo.once('exit', (code) => resolve(code)));
  demo.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  cluster = await new Promise<Ready>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`cluster-demo not ready in 90 s:\n${stdout}\n${output}`)), 90_000);
    demo.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
      const line = stdout.split('\n').find((l) => l.startsWith('cluster-demo ready '));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice('cluster-demo ready '.length)) as Ready);
      }
    });
    demo.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cluster-demo exited (${code}) before it was ready:\n${stdout}\n${output}`));
    });
  });
}, 120_000);

afterAll(async () => {
  if (demo && demo.exitCode === null && demo.signalCode === null) {
    demo.kill('SIGTERM');
    await exited;
  }
});

describe('three instances on one PostgreSQL behind nginx', () => {
  it('nginx deals requests round robin over the three instances', async () => {
    expect(cluster.instances).toHaveLength(3);
    const rr = await balancing(cluster, 9);
    expect(rr.map((r) => r.status)).toEqual(Array(9).fill(200));
    const ports = cluster.instances.map((i) => new URL(i.url).port);
    const hits = new Map(ports.map((p) => [p, 0]));
    for (const r of rr) {
      const port = r.upstream?.split(':').pop() ?? '';
      expect(ports).toContain(port);
      hits.set(port, hits.get(port)! + 1);
    }
    // Round robin: three each.
    expect([...hits.values()]).toEqual([3, 3, 3]);
  });

  it('a token issued through one instance works on the others', async () => {
    const t = await tokenWorksEverywhere(cluster);
    expect(t.direct).toHaveLength(3);
    for (const d of t.direct) {
      expect(d.status, d.instance).toBe(200);
      expect(d.email).toBe(t.email);
    }
    expect(t.throughLb.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(new Set(t.throughLb.map((r) => r.upstream)).size).toBe(3);
  });

  it('a logout through one instance is effective on the others at once', async () => {
    const l = await logoutIsEverywhere(cluster);
    expect(l.before.map((b) => b.status)).toEqual([200, 200, 200]);
    expect(l.logoutStatus).toBe(204);
    for (const a of l.after) expect(a.status, a.instance).toBe(401);
    expect(l.refreshAfterLogout.status).toBe(401);
  });

  it('a refresh token rotated on one and replayed on another after the grace window revokes the session', async () => {
    const r = await replayAfterGraceRevokes(cluster, GRACE_MS);
    expect(r.rotatedVia).not.toBe(r.replayedVia);
    expect(r.rotateStatus).toBe(200);
    expect(r.replay).toEqual({ status: 401, code: 'REFRESH_TOKEN_REUSED' });
    // The whole family is gone: the newest refresh token and the newest access token too.
    expect(r.newestRefresh.status).toBe(401);
    expect(r.newestRefresh.via).not.toBe(r.rotatedVia);
    for (const a of r.newestAccess) expect(a.status, a.instance).toBe(401);
  });

  it('after `latchkey keys rotate` every instance signs with the new key and serves the same JWKS within KEY_RELOAD_INTERVAL', async () => {
    // Budget: one reload interval, plus slack for a reload and a loaded two-core machine.
    const k = await keyRotationConverges(cluster, { cli: CLI, databaseUrl: cluster.databaseUrl, budgetMs: RELOAD_MS + 3000 });
    expect(k.newKid).not.toBe(k.kidBefore);
    for (const before of k.jwksBefore) expect(before).not.toContain(k.newKid);
    expect(k.converged, JSON.stringify(k.jwksAfter)).toBe(true);
    for (const after of k.jwksAfter) {
      expect(after).toContain(k.newKid);
      // The retired key stays published while tokens it signed can still be presented.
      expect(after).toContain(k.kidBefore);
    }
    for (const s of k.signedWith) {
      expect(s.status, s.instance).toBe(200);
      expect(s.kid, s.instance).toBe(k.newKid);
    }
    for (const o of k.oldTokenStillValid) expect(o.status, o.instance).toBe(200);
  });

  it('SIGTERM to the demo stops nginx and every instance', async () => {
    const pids = [cluster.nginxPid, ...cluster.instances.map((i) => i.pid)];
    for (const pid of pids) expect(pidAlive(pid)).toBe(true);
    demo.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const pid of pids) expect(pidAlive(pid), `pid ${pid}`).toBe(false);
    expect(output).not.toMatch(/uncaught|unhandled|"level":50/i);
  });
});
