import type { Pool, PoolClient } from 'pg';
import { keyFromRow, type KeyRow } from '../rows.js';
import type { SigningKeyRecord, SigningKeyStore } from '../types.js';
import type { PgConnection } from './connection.js';
import { postgresError } from './errors.js';

async function insertKey(c: PoolClient | Pool, key: SigningKeyRecord): Promise<void> {
  await c.query(
    `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retired_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [key.kid, key.alg, key.privateJwk, key.publicJwk, key.createdAt, key.retiredAt, key.expiresAt],
  );
}

/** The signing keys concern on PostgreSQL. Rotation takes an advisory lock: two `keys rotate` at once do not collide. */
export function postgresSigningKeys(db: PgConnection): SigningKeyStore {
  return {
    async listSigningKeys() {
      return (await db.query<KeyRow>('SELECT * FROM signing_keys ORDER BY created_at, kid')).map(keyFromRow);
    },

    async insertSigningKey(key) {
      try {
        await insertKey(db.pool, key);
      } catch (err) {
        throw postgresError(err);
      }
    },

    async rotateSigningKey(key, now, expiresAt) {
      await db.tx(async (c) => {
        // Two rotations at once (two instances creating their first key) would otherwise each
        // retire only what they saw and leave two active keys.
        await c.query("SELECT pg_advisory_xact_lock(hashtext('latchkey.signing_keys'))");
        await c.query('UPDATE signing_keys SET retired_at = $1, expires_at = $2 WHERE retired_at IS NULL', [now, expiresAt]);
        await insertKey(c, key);
      });
    },

    async replaceSigningKeyPrivate(kid, expected, privateJwk) {
      const n = await db.execute('UPDATE signing_keys SET private_jwk = $1 WHERE kid = $2 AND private_jwk = $3', [privateJwk, kid, expected]);
      return n === 1;
    },

    async deleteExpiredSigningKeys(now) {
      return db.execute('DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at <= $1', [now]);
    },
  };
}
