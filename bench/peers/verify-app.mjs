// Scenario (a): a resource server, the way a Latchkey user writes one: Fastify (logger off, its
// default) with @latchkey/verify's plugin on one route. Tokens are verified offline against
// Latchkey's JWKS, fetched once from the running server. With REVOCATION_FEED_TOKEN set it also
// follows Latchkey's revocation feed (at LATCHKEY_REVOCATIONS_URL), for the revocation scenarios;
// GET /stats then answers the follower's counters and the process's memory (after a GC when node
// runs with --expose-gc).
//
// Run: PORT=8003 LATCHKEY_ISSUER=http://localhost:3000 \
//      LATCHKEY_JWKS_URL=http://127.0.0.1:3000/.well-known/jwks.json AUDIENCE=latchkey node bench/peers/verify-app.mjs
import Fastify from 'fastify';

// VERIFY_DIST: another build of packages/verify (its dist directory), for before/after runs.
const { default: latchkeyVerify } = await import(process.env.VERIFY_DIST ? `${process.env.VERIFY_DIST.replace(/\/$/, '')}/fastify.js` : '../../packages/verify/dist/fastify.js');

const feedToken = process.env.REVOCATION_FEED_TOKEN;
const app = Fastify({ logger: false });
await app.register(latchkeyVerify, {
  issuer: process.env.LATCHKEY_ISSUER,
  audience: process.env.AUDIENCE ?? 'latchkey',
  jwksUrl: process.env.LATCHKEY_JWKS_URL,
  ...(feedToken ? { revocations: { url: process.env.LATCHKEY_REVOCATIONS_URL, token: feedToken, log: (m) => process.stderr.write(`${m}\n`) } } : {}),
});
app.get('/health', async () => ({ ok: true }));
app.get('/protected', { config: { auth: true } }, async (request) => ({ sub: request.auth.sub }));
app.get('/stats', async () => {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, revocations: app.latchkeyVerifier.stats.revocations ?? null };
});
if (feedToken) await app.latchkeyVerifier.revocationsReady();
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
