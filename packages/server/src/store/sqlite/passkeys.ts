import type Database from 'better-sqlite3';
import { passkeyFromRow, type PasskeyRow } from '../rows.js';
import type { PasskeyChallengePurpose, PasskeyStore } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { guardOutages } from './errors.js';

function preparePasskeyStatements(db: Database.Database) {
  return {
    // The unique index on credential_id settles a duplicate: nothing is inserted, changes is 0.
    insert: db.prepare(
      `INSERT INTO passkeys (id, user_id, credential_id, public_key, counter, transports, device_type, backed_up, aaguid, name, created_at)
       VALUES (@id, @userId, @credentialId, @publicKey, @counter, @transports, @deviceType, @backedUp, @aaguid, @name, @createdAt)
       ON CONFLICT (credential_id) DO NOTHING`,
    ),
    list: db.prepare<[string], PasskeyRow>('SELECT * FROM passkeys WHERE user_id = ? ORDER BY created_at, id'),
    byCredential: db.prepare<[string], PasskeyRow>('SELECT * FROM passkeys WHERE credential_id = ?'),
    rename: db.prepare('UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ?'),
    remove: db.prepare('DELETE FROM passkeys WHERE id = ? AND user_id = ?'),
    use: db.prepare(
      `UPDATE passkeys SET counter = @counter, backed_up = @backedUp, last_used_at = @now
       WHERE id = @id AND (counter < @counter OR (counter = 0 AND @counter = 0))`,
    ),
    insertChallenge: db.prepare(
      `INSERT INTO passkey_challenges (challenge_hash, purpose, user_id, created_at, expires_at)
       VALUES (@challengeHash, @purpose, @userId, @createdAt, @expiresAt)`,
    ),
    consumeChallenge: db.prepare<[string, string, number], { user_id: string | null }>(
      'DELETE FROM passkey_challenges WHERE challenge_hash = ? AND purpose = ? AND expires_at > ? RETURNING user_id',
    ),
    purgeChallenges: db.prepare(
      `DELETE FROM passkey_challenges WHERE challenge_hash IN (
         SELECT challenge_hash FROM passkey_challenges WHERE expires_at <= ? LIMIT ?)`,
    ),
  };
}

/**
 * The passkeys concern on SQLite. Its "exactly one" guarantees are single statements (an insert
 * against a unique index, a conditional UPDATE, a DELETE ... RETURNING): each runs without
 * yielding in this process, and another process on the file waits for the write lock, then
 * sees the committed row.
 */
export function sqlitePasskeys(c: SqliteConnection): PasskeyStore {
  const s = c.statements(preparePasskeyStatements);

  return guardOutages<PasskeyStore>({
    createPasskey(p) {
      return s().insert.run({ ...p, transports: p.transports.join(','), backedUp: p.backedUp ? 1 : 0 }).changes === 1;
    },

    listPasskeys(userId) {
      return s().list.all(userId).map(passkeyFromRow);
    },

    findPasskeyByCredentialId(credentialId) {
      const row = s().byCredential.get(credentialId);
      return row ? passkeyFromRow(row) : null;
    },

    renamePasskey(userId, id, name) {
      return s().rename.run(name, id, userId).changes === 1;
    },

    deletePasskey(userId, id) {
      return s().remove.run(id, userId).changes === 1;
    },

    usePasskey(id, counter, backedUp, now) {
      return s().use.run({ id, counter, backedUp: backedUp ? 1 : 0, now }).changes === 1;
    },

    createPasskeyChallenge(challenge) {
      s().insertChallenge.run(challenge);
    },

    consumePasskeyChallenge(challengeHash, purpose: PasskeyChallengePurpose, now) {
      const row = s().consumeChallenge.get(challengeHash, purpose, now);
      return row ? { userId: row.user_id } : undefined;
    },

    purgePasskeyChallenges(now, limit) {
      return s().purgeChallenges.run(now, limit).changes;
    },
  });
}
