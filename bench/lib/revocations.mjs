// The revocation scenarios (docs/benchmarks.md, (r) and (r-mem)): how long after Latchkey answers
// a logout a service protected by @latchkey/verify, following the revocation feed, first refuses
// the token; and what 100,000 revocations in the window cost the verify process in memory.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './processes.mjs';

const require = createRequire(join(ROOT, 'packages/server/package.json'));

/** Percentile `p` (0..1) of sorted `values`, nearest rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

async function status(url, headers) {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return res.status;
}

/**
 * For each access token in turn: checks the verify-protected URL accepts it, logs its session out
 * through `latchkeyBase`, then asks the protected URL again and again (no pause, one request at a
 * time) until it answers 401. Returns the milliseconds from the logout's answer to that first 401,
 * one per token, and where each logout was answered (nginx's X-Latchkey-Upstream, if any).
 * A token still accepted after `timeoutMs` fails the scenario: the guarantee did not hold.
 */
export async function revocationLatencies({ latchkeyBase, protectedUrl, accessTokens, timeoutMs = 10_000, maxPauseMs = 500 }) {
  const latencies = [];
  const upstreams = [];
  for (const token of accessTokens) {
    const headers = { authorization: `Bearer ${token}` };
    const before = await status(protectedUrl, headers);
    if (before !== 200) throw new Error(`the protected route refused a live token before its logout (${before})`);
    // A random pause first: logging out right after the previous refusal would always land just
    // after the server's last look for new entries (where it polls) and measure its whole period.
    await new Promise((r) => setTimeout(r, Math.random() * maxPauseMs));
    const res = await fetch(`${latchkeyBase}/auth/logout`, { method: 'POST', headers });
    await res.arrayBuffer();
    const answered = performance.now();
    if (res.status !== 204) throw new Error(`logout answered ${res.status}`);
    upstreams.push(res.headers.get('x-latchkey-upstream'));
    for (;;) {
      const s = await status(protectedUrl, headers);
      const now = performance.now();
      if (s === 401) {
        latencies.push(now - answered);
        break;
      }
      if (s !== 200) throw new Error(`the protected route answered ${s}`);
      if (now - answered > timeoutMs) throw new Error(`a logged-out token was still accepted ${timeoutMs} ms after the logout`);
    }
  }
  return { latencies, upstreams };
}

/** p50/p99/max/mean of a list of milliseconds. */
export function summarise(latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.at(-1) ?? null,
    meanMs: sorted.reduce((s, x) => s + x, 0) / (sorted.length || 1),
  };
}

/**
 * `count` more sessions of the user who owns session `sid`, copied from it straight into the
 * SQLite file (a login each would take `count` argon2id hashes: an hour), returned by id. Only the
 * sessions are made this way; their revocation goes through Latchkey's API.
 */
export function cloneSessions(sqliteFile, sid, count) {
  const Database = require('better-sqlite3');
  const db = new Database(sqliteFile);
  try {
    db.pragma('busy_timeout = 10000');
    const ids = Array.from({ length: count }, (_, i) => `bench-${i.toString(36).padStart(6, '0')}-${sid.slice(0, 8)}`);
    const insert = db.prepare(
      `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, idle_expires_at, user_agent, ip, auth_time, amr)
       SELECT ?, user_id, created_at, last_used_at, expires_at, idle_expires_at, user_agent, ip, auth_time, amr FROM sessions WHERE id = ?`,
    );
    db.transaction(() => {
      for (const id of ids) if (insert.run(id, sid).changes !== 1) throw new Error(`session ${sid} not found`);
    })();
    return ids;
  } finally {
    db.close();
  }
}

/** Revokes each session with DELETE /auth/sessions/{id} (as its user would), `parallel` at a time. */
export async function revokeSessions(base, accessToken, ids, parallel = 8) {
  let next = 0;
  const headers = { authorization: `Bearer ${accessToken}` };
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < ids.length) {
        const id = ids[next++];
        const res = await fetch(`${base}/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE', headers });
        await res.arrayBuffer();
        if (res.status !== 204) throw new Error(`DELETE /auth/sessions/${id} answered ${res.status}`);
      }
    }),
  );
}

/**
 * Reads the whole feed the way a starting follower does (GET ?after= pages of 1000 to the end),
 * from this process: the server's and the network's part of a follower's catch-up.
 */
export async function pageWholeFeed(feedUrl, token) {
  const t0 = performance.now();
  let after = '';
  let pages = 0;
  let entries = 0;
  for (;;) {
    const res = await fetch(`${feedUrl}?limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`GET ${feedUrl} answered ${res.status}`);
    const page = await res.json();
    pages++;
    entries += page.entries.length;
    after = page.next;
    if (!page.has_more) break;
  }
  return { ms: performance.now() - t0, pages, entries };
}

/** The verify app's GET /stats (memory after a GC, and the follower's counters). */
export async function verifyStats(base) {
  const res = await fetch(`${base}/stats`);
  if (!res.ok) throw new Error(`/stats answered ${res.status}`);
  return res.json();
}
