import type { OneTimeTokenStore } from '../types.js';
import type { PgConnection } from './connection.js';

/** The one-time tokens concern on PostgreSQL: spending is one conditional UPDATE. */
export function postgresOneTimeTokens(db: PgConnection): OneTimeTokenStore {
  return {
    async createOneTimeToken(t) {
      await db.execute(
        `INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
        [t.tokenHash, t.userId, t.purpose, t.createdAt, t.expiresAt],
      );
    },

    async consumeOneTimeToken(tokenHash, purpose, now) {
      // Concurrent updates of the row queue on its lock and re-check `used_at IS NULL`: one wins.
      const rows = await db.query<{ user_id: string }>(
        `UPDATE one_time_tokens SET used_at = $1
         WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1
         RETURNING user_id`,
        [now, tokenHash, purpose],
      );
      return rows[0]?.user_id ?? null;
    },

    async findOneTimeToken(tokenHash, purpose, now) {
      const rows = await db.query<{ user_id: string }>(
        'SELECT user_id FROM one_time_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3',
        [tokenHash, purpose, now],
      );
      return rows[0]?.user_id ?? null;
    },

    async deleteOneTimeTokens(userId, purpose) {
      await db.execute('DELETE FROM one_time_tokens WHERE user_id = $1 AND purpose = $2', [userId, purpose]);
    },
  };
}
