import { passkeyFromRow, type PasskeyRow } from '../rows.js';
import type { PasskeyStore } from '../types.js';
import type { PgConnection } from './connection.js';

/**
 * The passkeys concern on PostgreSQL. Each "exactly one" is one statement: an insert against the
 * unique index on credential_id, a conditional UPDATE (concurrent updates of one row queue on its
 * lock and re-check the condition on the committed row), a DELETE ... RETURNING.
 */
export function postgresPasskeys(db: PgConnection): PasskeyStore {
  return {
    async createPasskey(p) {
      const n = await db.execute(
        `INSERT INTO passkeys (id, user_id, credential_id, public_key, counter, transports, device_type, backed_up, aaguid, name, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (credential_id) DO NOTHING`,
        [p.id, p.userId, p.credentialId, p.publicKey, p.counter, p.transports.join(','), p.deviceType, p.backedUp, p.aaguid, p.name, p.createdAt],
      );
      return n === 1;
    },

    async listPasskeys(userId) {
      const rows = await db.query<PasskeyRow>('SELECT * FROM passkeys WHERE user_id = $1 ORDER BY created_at, id', [userId]);
      return rows.map(passkeyFromRow);
    },

    async findPasskeyByCredentialId(credentialId) {
      const rows = await db.query<PasskeyRow>('SELECT * FROM passkeys WHERE credential_id = $1', [credentialId]);
      return rows[0] ? passkeyFromRow(rows[0]) : null;
    },

    async renamePasskey(userId, id, name) {
      return (await db.execute('UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3', [name, id, userId])) === 1;
    },

    async deletePasskey(userId, id) {
      return (await db.execute('DELETE FROM passkeys WHERE id = $1 AND user_id = $2', [id, userId])) === 1;
    },

    async usePasskey(id, counter, backedUp, now) {
      const n = await db.execute(
        `UPDATE passkeys SET counter = $2, backed_up = $3, last_used_at = $4
         WHERE id = $1 AND (counter < $2 OR (counter = 0 AND $2 = 0))`,
        [id, counter, backedUp, now],
      );
      return n === 1;
    },

    async createPasskeyChallenge(ch) {
      await db.execute(
        `INSERT INTO passkey_challenges (challenge_hash, purpose, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
        [ch.challengeHash, ch.purpose, ch.userId, ch.createdAt, ch.expiresAt],
      );
    },

    async consumePasskeyChallenge(challengeHash, purpose, now) {
      const rows = await db.query<{ user_id: string | null }>(
        'DELETE FROM passkey_challenges WHERE challenge_hash = $1 AND purpose = $2 AND expires_at > $3 RETURNING user_id',
        [challengeHash, purpose, now],
      );
      return rows[0] ? { userId: rows[0].user_id } : undefined;
    },

    async purgePasskeyChallenges(now, limit) {
      return db.execute(
        `DELETE FROM passkey_challenges WHERE challenge_hash IN (
           SELECT challenge_hash FROM passkey_challenges WHERE expires_at <= $1 LIMIT $2)`,
        [now, limit],
      );
    },
  };
}
