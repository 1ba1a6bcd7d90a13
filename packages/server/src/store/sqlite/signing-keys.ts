import type Database from 'better-sqlite3';
import { keyFromRow, type KeyRow } from '../rows.js';
import type { SigningKeyRecord, SigningKeyStore } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { guardOutages } from './errors.js';

function prepareKeyStatements(db: Database.Database) {
  return {
    listKeys: db.prepare<[], KeyRow>('SELECT * FROM signing_keys ORDER BY created_at'),
    insertKey: db.prepare(
      `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retired_at, expires_at)
       VALUES (@kid, @alg, @privateJwk, @publicJwk, @createdAt, @retiredAt, @expiresAt)`,
    ),
    retireKeys: db.prepare('UPDATE signing_keys SET retired_at = ?, expires_at = ? WHERE retired_at IS NULL'),
    deleteExpiredKeys: db.prepare('DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at <= ?'),
    replaceKeyPrivate: db.prepare('UPDATE signing_keys SET private_jwk = ? WHERE kid = ? AND private_jwk = ?'),
  };
}

/** The signing keys concern on SQLite. */
export function sqliteSigningKeys(c: SqliteConnection): SigningKeyStore {
  const s = c.statements(prepareKeyStatements);

  const rotate = c.db.transaction((key: SigningKeyRecord, now: number, expiresAt: number) => {
    s().retireKeys.run(now, expiresAt);
    s().insertKey.run(key);
  });

  return guardOutages<SigningKeyStore>({
    listSigningKeys() {
      return s().listKeys.all().map(keyFromRow);
    },

    insertSigningKey(key) {
      s().insertKey.run(key);
    },

    rotateSigningKey(key, now, expiresAt) {
      rotate.immediate(key, now, expiresAt);
    },

    replaceSigningKeyPrivate(kid, expected, privateJwk) {
      return s().replaceKeyPrivate.run(privateJwk, kid, expected).changes === 1;
    },

    deleteExpiredSigningKeys(now) {
      return s().deleteExpiredKeys.run(now).changes;
    },
  });
}
