import type Database from 'better-sqlite3';
import { decodeOAuthClientCursor, encodeOAuthClientCursor, oauthClientFromRow, type OAuthClientRow } from '../oauth-client-rows.js';
import type { OAuthClientStore } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { guardOutages } from './errors.js';

function prepareOAuthClientStatements(db: Database.Database) {
  return {
    // The primary key settles a taken id: nothing is inserted, changes is 0.
    insert: db.prepare(
      `INSERT INTO oauth_clients (id, name, secret_hash, metadata, first_party, dynamic, created_at, updated_at, secret_rotated_at)
       VALUES (@id, @name, @secretHash, @metadata, @firstParty, @dynamic, @createdAt, @updatedAt, @secretRotatedAt)
       ON CONFLICT (id) DO NOTHING`,
    ),
    find: db.prepare<[string], OAuthClientRow>('SELECT * FROM oauth_clients WHERE id = ?'),
    first: db.prepare<[number], OAuthClientRow>('SELECT * FROM oauth_clients ORDER BY created_at, id LIMIT ?'),
    after: db.prepare<[number, number, string, number], OAuthClientRow>(
      'SELECT * FROM oauth_clients WHERE created_at > ? OR (created_at = ? AND id > ?) ORDER BY created_at, id LIMIT ?',
    ),
    update: db.prepare<[string, string, number, number, string], OAuthClientRow>(
      'UPDATE oauth_clients SET name = ?, metadata = ?, first_party = ?, updated_at = ? WHERE id = ? RETURNING *',
    ),
    setSecret: db.prepare('UPDATE oauth_clients SET secret_hash = ?, secret_rotated_at = ?, updated_at = ? WHERE id = ?'),
    remove: db.prepare('DELETE FROM oauth_clients WHERE id = ?'),
  };
}

/**
 * The OAuth clients concern on SQLite: each method is one statement. Deleting a client relies on
 * the foreign keys (on for every connection) to take its oauth_payloads rows along.
 */
export function sqliteOAuthClients(c: SqliteConnection): OAuthClientStore {
  const s = c.statements(prepareOAuthClientStatements);

  return guardOutages<OAuthClientStore>({
    createOAuthClient(client) {
      const params = {
        id: client.id,
        name: client.name,
        secretHash: client.secretHash,
        metadata: JSON.stringify(client.metadata),
        firstParty: client.firstParty ? 1 : 0,
        dynamic: client.dynamic ? 1 : 0,
        createdAt: client.createdAt,
        updatedAt: client.updatedAt,
        secretRotatedAt: client.secretRotatedAt,
      };
      return s().insert.run(params).changes === 1;
    },

    findOAuthClient(id) {
      const row = s().find.get(id);
      return row ? oauthClientFromRow(row) : null;
    },

    listOAuthClients(q) {
      let rows: OAuthClientRow[];
      if (q.cursor) {
        const cursor = decodeOAuthClientCursor(q.cursor);
        if (!cursor) return { clients: [], nextCursor: null };
        rows = s().after.all(cursor.createdAt, cursor.createdAt, cursor.id, q.limit + 1);
      } else {
        rows = s().first.all(q.limit + 1);
      }
      const clients = rows.slice(0, q.limit).map(oauthClientFromRow);
      const last = clients[clients.length - 1];
      return { clients, nextCursor: rows.length > q.limit && last ? encodeOAuthClientCursor(last.createdAt, last.id) : null };
    },

    updateOAuthClient(id, change, now) {
      const row = s().update.get(change.name, JSON.stringify(change.metadata), change.firstParty ? 1 : 0, now, id);
      return row ? oauthClientFromRow(row) : null;
    },

    setOAuthClientSecret(id, secretHash, now) {
      return s().setSecret.run(secretHash, now, now, id).changes === 1;
    },

    deleteOAuthClient(id) {
      return s().remove.run(id).changes === 1;
    },
  });
}
