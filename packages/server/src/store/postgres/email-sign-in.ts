import { emailSignInChallengeFromRow, type EmailSignInChallengeRow } from '../rows.js';
import type { EmailSignInStore } from '../types.js';
import type { PgConnection } from './connection.js';

/**
 * The email sign-in concern on PostgreSQL. Every guarantee is one statement: concurrent updates
 * and deletes of a row queue on its lock and re-check their WHERE against the winner's commit, so
 * one DELETE spends a challenge and the attempt count never passes its limit.
 */
export function postgresEmailSignIn(db: PgConnection): EmailSignInStore {
  return {
    async putEmailSignInChallenge(ch) {
      await db.execute(
        `INSERT INTO email_sign_in_challenges (email, id, token_hash, code_hash, attempts, created_at, expires_at)
         VALUES ($1, $2, $3, $4, 0, $5, $6)
         ON CONFLICT (email) DO UPDATE SET id = excluded.id, token_hash = excluded.token_hash, code_hash = excluded.code_hash,
           attempts = 0, created_at = excluded.created_at, expires_at = excluded.expires_at`,
        [ch.email, ch.id, ch.tokenHash, ch.codeHash, ch.createdAt, ch.expiresAt],
      );
    },

    async consumeEmailSignInToken(tokenHash, now, maxAttempts) {
      const rows = await db.query<EmailSignInChallengeRow>(
        'DELETE FROM email_sign_in_challenges WHERE token_hash = $1 AND expires_at > $2 AND attempts < $3 RETURNING *',
        [tokenHash, now, maxAttempts],
      );
      return rows[0] ? emailSignInChallengeFromRow(rows[0]) : null;
    },

    async countEmailSignInAttempt(email, now, maxAttempts) {
      const rows = await db.query<EmailSignInChallengeRow>(
        `UPDATE email_sign_in_challenges SET attempts = attempts + 1
         WHERE email = $1 AND expires_at > $2 AND attempts < $3 RETURNING *`,
        [email, now, maxAttempts],
      );
      return rows[0] ? emailSignInChallengeFromRow(rows[0]) : null;
    },

    async consumeEmailSignInChallenge(id, now) {
      return (await db.execute('DELETE FROM email_sign_in_challenges WHERE id = $1 AND expires_at > $2', [id, now])) === 1;
    },

    async deleteEmailSignInChallenge(email) {
      await db.execute('DELETE FROM email_sign_in_challenges WHERE email = $1', [email]);
    },

    async purgeEmailSignInChallenges(now, limit) {
      // SKIP LOCKED: the sweep never waits for (nor blocks) a sign-in on another instance.
      return db.execute(
        `DELETE FROM email_sign_in_challenges WHERE email IN (
           SELECT email FROM email_sign_in_challenges WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [now, limit],
      );
    },
  };
}
