// A typical Node stack, as a peer of GET /auth/me: Express 5 + jsonwebtoken (RS256, the same
// algorithm as Latchkey's default) + bcryptjs (pure JS, cost 10), users in SQLite through
// better-sqlite3. POST /login returns a JWT; GET /me verifies it (algorithm pinned, issuer and
// audience checked, as a careful tutorial does) and loads the user.
//
// Run: PORT=8001 DATA_DIR=/tmp/x BENCH_EMAIL=... BENCH_PASSWORD=... node bench/peers/express-app.mjs
import bcrypt from 'bcryptjs';
import Database from 'better-sqlite3';
import express from 'express';
import jwt from 'jsonwebtoken';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { join } from 'node:path';

const ISSUER = 'http://127.0.0.1';
const AUDIENCE = 'express-peer';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

const db = new Database(join(process.env.DATA_DIR, 'express.db'));
db.pragma('journal_mode = WAL');
db.exec(`CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, email TEXT UNIQUE NOT NULL, name TEXT,
  password_hash TEXT NOT NULL, created_at TEXT NOT NULL)`);
db.prepare('INSERT OR REPLACE INTO users (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(
  randomUUID(),
  process.env.BENCH_EMAIL,
  'Bench User',
  bcrypt.hashSync(process.env.BENCH_PASSWORD, 10),
  new Date().toISOString(),
);
const userByEmail = db.prepare('SELECT * FROM users WHERE email = ?');
const userById = db.prepare('SELECT * FROM users WHERE id = ?');

const app = express();
app.use(express.json());

app.post('/login', async (req, res) => {
  const user = userByEmail.get(String(req.body?.email ?? ''));
  if (!user || !(await bcrypt.compare(String(req.body?.password ?? ''), user.password_hash))) {
    return res.status(401).json({ error: 'invalid credentials' });
  }
  const token = jwt.sign({}, privateKey, { algorithm: 'RS256', subject: user.id, issuer: ISSUER, audience: AUDIENCE, expiresIn: '15m' });
  res.json({ access_token: token, token_type: 'Bearer' });
});

function requireUser(req, res, next) {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Bearer ')) return res.status(401).json({ error: 'unauthorized' });
  try {
    const claims = jwt.verify(header.slice(7), publicKey, { algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE });
    const user = userById.get(claims.sub);
    if (!user) return res.status(401).json({ error: 'unauthorized' });
    req.user = user;
    next();
  } catch {
    res.status(401).json({ error: 'unauthorized' });
  }
}

app.get('/me', requireUser, (req, res) => {
  const { id, email, name, created_at } = req.user;
  res.json({ user: { id, email, name, created_at } });
});

const server = app.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
