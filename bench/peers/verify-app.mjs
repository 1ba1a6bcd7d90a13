// Scenario (a): a resource server, the way a Latchkey user writes one: Fastify (logger off, its
// default) with @latchkey/verify's plugin on one route. Tokens are verified offline against
// Latchkey's JWKS, fetched once from the running server.
//
// Run: PORT=8003 LATCHKEY_ISSUER=http://localhost:3000 \
//      LATCHKEY_JWKS_URL=http://127.0.0.1:3000/.well-known/jwks.json AUDIENCE=latchkey node bench/peers/verify-app.mjs
import Fastify from 'fastify';
import latchkeyVerify from '../../packages/verify/dist/fastify.js';

const app = Fastify({ logger: false });
await app.register(latchkeyVerify, {
  issuer: process.env.LATCHKEY_ISSUER,
  audience: process.env.AUDIENCE ?? 'latchkey',
  jwksUrl: process.env.LATCHKEY_JWKS_URL,
});
app.get('/health', async () => ({ ok: true }));
app.get('/protected', { config: { auth: true } }, async (request) => ({ sub: request.auth.sub }));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
