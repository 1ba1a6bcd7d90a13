// better-auth (npm) on SQLite (better-sqlite3), as a peer of GET /auth/me: its
// GET /api/auth/get-session, which reads the signed session cookie and loads the session and the
// user from the database (cookie cache off, its default). Served by node:http through its own
// toNodeHandler, the leanest host it documents. Its rate limiter stays on (as Latchkey's does
// in the benchmark) with a limit the benchmark cannot reach.
//
// Run: PORT=8002 DATA_DIR=/tmp/x node bench/peers/better-auth/server.mjs
// (installed by bench/run.mjs with `npm ci` in this folder: see package.json here for why).
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';

const port = Number(process.env.PORT);
const database = new Database(join(process.env.DATA_DIR, 'better-auth.db'));
database.pragma('journal_mode = WAL');

const auth = betterAuth({
  database,
  baseURL: `http://127.0.0.1:${port}`,
  secret: randomBytes(32).toString('hex'),
  emailAndPassword: { enabled: true },
  rateLimit: { enabled: true, window: 1, max: 1_000_000, customRules: { '/sign-up/email': false } },
  logger: { disabled: true },
  telemetry: { enabled: false },
});

const { runMigrations } = await getMigrations(auth.options);
await runMigrations();

const server = createServer(toNodeHandler(auth));
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
