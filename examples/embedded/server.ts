import { buildShop } from './app.js';

// The shop reads its own few variables and hands Latchkey its settings by section; everything
// else is Latchkey's default (the plugin does not read the environment itself).
const port = Number(process.env.PORT ?? 3000);
const app = await buildShop({
  latchkey: {
    tokens: { issuer: process.env.SHOP_URL ?? `http://localhost:${port}`, audience: 'shop' },
    store: { databaseUrl: process.env.DATABASE_URL ?? 'sqlite:./data/shop.db' },
    // Plain http on localhost; behind TLS in production the default (true) stays.
    sessions: { cookieSecure: process.env.COOKIE_SECURE !== 'false' },
  },
});
await app.listen({ port, host: process.env.HOST ?? '127.0.0.1' });
