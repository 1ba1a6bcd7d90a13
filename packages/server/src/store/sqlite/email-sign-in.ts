import type Database from 'better-sqlite3';
import { emailSignInChallengeFromRow, type EmailSignInChallengeRow } from '../rows.js';
import type { EmailSignInStore } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { guardOutages } from './errors.js';

function prepareEmailSignInStatements(db: Database.Database) {
  return {
    // One row per address (its primary key): a new challenge overwrites the old in one statement.
    put: db.prepare(
      `INSERT INTO email_sign_in_challenges (email, id, token_hash, code_hash, attempts, created_at, expires_at)
       VALUES (@email, @id, @tokenHash, @codeHash, 0, @createdAt, @expiresAt)
       ON CONFLICT (email) DO UPDATE SET id = excluded.id, token_hash = excluded.token_hash, code_hash = excluded.code_hash,
         attempts = 0, created_at = excluded.created_at, expires_at = excluded.expires_at`,
    ),
    consumeToken: db.prepare<[string, number, number], EmailSignInChallengeRow>(
      'DELETE FROM email_sign_in_challenges WHERE token_hash = ? AND expires_at > ? AND attempts < ? RETURNING *',
    ),
    countAttempt: db.prepare<[string, number, number], EmailSignInChallengeRow>(
      `UPDATE email_sign_in_challenges SET attempts = attempts + 1
       WHERE email = ? AND expires_at > ? AND attempts < ? RETURNING *`,
    ),
    consumeById: db.prepare('DELETE FROM email_sign_in_challenges WHERE id = ? AND expires_at > ?'),
    deleteByEmail: db.prepare('DELETE FROM email_sign_in_challenges WHERE email = ?'),
    purge: db.prepare(
      `DELETE FROM email_sign_in_challenges WHERE email IN (
         SELECT email FROM email_sign_in_challenges WHERE expires_at <= ? LIMIT ?)`,
    ),
  };
}

/**
 * The email sign-in concern on SQLite. Each guarantee is one statement (an upsert, a conditional
 * UPDATE ... RETURNING, a DELETE ... RETURNING): it runs without yielding in this process, and
 * another process on the file waits for the write lock, then sees the committed row.
 */
export function sqliteEmailSignIn(c: SqliteConnection): EmailSignInStore {
  const s = c.statements(prepareEmailSignInStatements);

  return guardOutages<EmailSignInStore>({
    putEmailSignInChallenge(challenge) {
      s().put.run(challenge);
    },

    consumeEmailSignInToken(tokenHash, now, maxAttempts) {
      const row = s().consumeToken.get(tokenHash, now, maxAttempts);
      return row ? emailSignInChallengeFromRow(row) : null;
    },

    countEmailSignInAttempt(email, now, maxAttempts) {
      const row = s().countAttempt.get(email, now, maxAttempts);
      return row ? emailSignInChallengeFromRow(row) : null;
    },

    consumeEmailSignInChallenge(id, now) {
      return s().consumeById.run(id, now).changes === 1;
    },

    deleteEmailSignInChallenge(email) {
      s().deleteByEmail.run(email);
    },

    purgeEmailSignInChallenges(now, limit) {
      return s().purge.run(now, limit).changes;
    },
  });
}
