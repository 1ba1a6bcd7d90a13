#!/usr/bin/env node
// The hot path alone: `verifier.peek(token)` on cached tokens, in this process, for two builds of
// packages/verify (dist directories) and, for B, with the verifier following a revocation feed
// that holds --revoked revoked sessions (a small in-process feed on 127.0.0.1 speaking the
// contract). Interleaved A B B A rounds; prints ns per peek (median of the rounds).
//
//   node bench/verify-peek.mjs --a=.tmp/verify-before --b=packages/verify/dist
import { createServer } from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import { exportJWK, SignJWT } from 'jose';
import { ROOT } from './lib/processes.mjs';

const { values: f } = parseArgs({
  options: {
    a: { type: 'string', default: 'packages/verify/dist' },
    b: { type: 'string', default: 'packages/verify/dist' },
    revoked: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '6' },
    iterations: { type: 'string', default: '2000000' },
  },
});
const abs = (p) => (isAbsolute(p) ? p : join(ROOT, p));
const ISSUER = 'http://issuer.bench';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
const now = Math.floor(Date.now() / 1000);
const tokens = await Promise.all(
  Array.from({ length: 64 }, (_, i) =>
    new SignJWT({ sub: `user-${i}`, sid: randomUUID(), jti: randomUUID(), roles: ['user'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience('latchkey')
      .setIssuedAt(now)
      .setExpirationTime(now + 900)
      .sign(privateKey),
  ),
);
const entries = Array.from({ length: Number(f.revoked) }, (_, i) => ({ type: 'session', sid: randomUUID(), exp: now + 960, cursor: String(i + 1) }));
const server = createServer((req, res) => {
  if (req.url === '/jwks') return res.end(JSON.stringify({ keys: [jwk] }));
  if (req.url.startsWith('/auth/revocations/stream')) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    return res.write('retry: 1000\n\n');
  }
  if (req.url.startsWith('/auth/revocations')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ entries, next: String(entries.length), has_more: false, window_seconds: 960 }));
  }
  res.writeHead(404).end();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

async function variant(name, dist, follow) {
  const { createVerifier } = await import(join(abs(dist), 'index.js'));
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: 'latchkey',
    jwksUrl: `${base}/jwks`,
    ...(follow ? { revocations: { url: `${base}/auth/revocations`, token: 'bench-token' } } : {}),
  });
  if (follow) await verifier.revocationsReady();
  for (const t of tokens) await verifier.verify(t);
  // Fresh strings, as each request's header is: the cache keys by the token's tail.
  const headers = tokens.map((t) => `Bearer ${t}`);
  return { name, verifier, headers, follow, results: [] };
}
const A = await variant('A', f.a, false);
const B = await variant('B', f.b, false);
const C = await variant('B following the feed', f.b, true);
const n = Number(f.iterations);
function round(v) {
  let hits = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (v.verifier.peek(v.headers[i & 63].slice(7)) !== undefined) hits++;
  const ns = Number(process.hrtime.bigint() - t0) / n;
  if (hits !== n) throw new Error(`${v.name}: ${n - hits} misses`);
  v.results.push(ns);
}
for (let r = 0; r < Number(f.rounds); r++) for (const v of r % 2 === 0 ? [A, B, C] : [C, B, A]) round(v);
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
for (const v of [A, B, C]) console.log(`${v.name}: ${median(v.results).toFixed(1)} ns per peek (rounds: ${v.results.map((x) => x.toFixed(0)).join(', ')})`);
if (C.follow) console.log(`B following holds ${C.verifier.stats.revocations.revokedSessions} revoked sessions`);
await C.verifier.close();
server.closeAllConnections();
server.close();
