import type { PoolClient } from 'pg';
import { factorFromRow, type FactorRow } from '../rows.js';
import type { FactorStore } from '../types.js';
import type { PgConnection } from './connection.js';

/**
 * The second factors concern on PostgreSQL. Every "exactly one" of the contract is a conditional
 * UPDATE: concurrent updates of one row queue on its lock and re-check the condition on the row
 * as committed (READ COMMITTED), so only the first changes it.
 */
export function postgresFactors(db: PgConnection): FactorStore {
  return {
    async putPendingFactor(f) {
      // One statement: the partial unique index allows one TOTP factor per user; a pending one is
      // replaced, an active one is left alone (the WHERE of DO UPDATE), and no row comes back.
      const rows = await db.query<{ id: string }>(
        `INSERT INTO factors (id, user_id, kind, secret, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) WHERE kind = 'totp' DO UPDATE
           SET id = excluded.id, secret = excluded.secret, created_at = excluded.created_at,
               last_used_step = NULL, last_used_at = NULL
           WHERE factors.confirmed_at IS NULL
         RETURNING id`,
        [f.id, f.userId, f.kind, f.secret, f.createdAt],
      );
      return rows.length === 1;
    },

    async listFactors(userId) {
      const rows = await db.query<FactorRow>('SELECT * FROM factors WHERE user_id = $1 ORDER BY created_at, id', [userId]);
      return rows.map(factorFromRow);
    },

    async confirmFactor(userId, factorId, step, now, recoveryCodeHashes) {
      return db.tx(async (c) => {
        const confirmed = await c.query(
          `UPDATE factors SET confirmed_at = $1, last_used_step = $2, last_used_at = $1
           WHERE id = $3 AND user_id = $4 AND confirmed_at IS NULL`,
          [now, step, factorId, userId],
        );
        if (confirmed.rowCount !== 1) return false;
        await c.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId]);
        await insertCodes(c, userId, recoveryCodeHashes, now);
        return true;
      });
    },

    async useTotpStep(factorId, step, now) {
      const n = await db.execute(
        `UPDATE factors SET last_used_step = $1, last_used_at = $2
         WHERE id = $3 AND confirmed_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < $1)`,
        [step, now, factorId],
      );
      return n === 1;
    },

    async deleteFactor(userId, factorId) {
      return db.tx(async (c) => {
        const deleted = await c.query('DELETE FROM factors WHERE id = $1 AND user_id = $2', [factorId, userId]);
        if (deleted.rowCount !== 1) return false;
        await c.query(
          `DELETE FROM recovery_codes WHERE user_id = $1
             AND NOT EXISTS (SELECT 1 FROM factors WHERE user_id = $1 AND confirmed_at IS NOT NULL)`,
          [userId],
        );
        return true;
      });
    },

    async replaceRecoveryCodes(userId, codeHashes, now) {
      await db.tx(async (c) => {
        await c.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId]);
        await insertCodes(c, userId, codeHashes, now);
      });
    },

    async spendRecoveryCode(userId, codeHash, now) {
      const n = await db.execute(
        'UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL',
        [now, userId, codeHash],
      );
      return n === 1;
    },

    async countRecoveryCodes(userId) {
      const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL', [
        userId,
      ]);
      return rows[0]!.n;
    },
  };
}

/** One INSERT for the whole set (unnest of the array): one round trip whatever its size. */
async function insertCodes(c: PoolClient, userId: string, codeHashes: readonly string[], now: number): Promise<void> {
  if (codeHashes.length === 0) return;
  await c.query('INSERT INTO recovery_codes (user_id, code_hash, created_at) SELECT $1, h, $3 FROM unnest($2::text[]) AS h', [
    userId,
    [...codeHashes],
    now,
  ]);
}
