import { decodeOAuthClientCursor, encodeOAuthClientCursor, oauthClientFromRow, type OAuthClientRow } from '../oauth-client-rows.js';
import type { OAuthClientStore } from '../types.js';
import type { PgConnection } from './connection.js';

/**
 * The OAuth clients concern on PostgreSQL: each method is one statement; the primary key settles
 * a taken id (`ON CONFLICT DO NOTHING`), and the foreign keys take a deleted client's
 * oauth_payloads rows along in the same statement.
 */
export function postgresOAuthClients(db: PgConnection): OAuthClientStore {
  return {
    async createOAuthClient(client) {
      const n = await db.execute(
        `INSERT INTO oauth_clients (id, name, secret_hash, metadata, first_party, dynamic, created_at, updated_at, secret_rotated_at)
         VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9)
         ON CONFLICT (id) DO NOTHING`,
        [
          client.id,
          client.name,
          client.secretHash,
          JSON.stringify(client.metadata),
          client.firstParty,
          client.dynamic,
          client.createdAt,
          client.updatedAt,
          client.secretRotatedAt,
        ],
      );
      return n === 1;
    },

    async findOAuthClient(id) {
      const rows = await db.query<OAuthClientRow>('SELECT * FROM oauth_clients WHERE id = $1', [id]);
      return rows[0] ? oauthClientFromRow(rows[0]) : null;
    },

    async listOAuthClients(q) {
      let rows: OAuthClientRow[];
      if (q.cursor) {
        const cursor = decodeOAuthClientCursor(q.cursor);
        if (!cursor) return { clients: [], nextCursor: null };
        rows = await db.query<OAuthClientRow>('SELECT * FROM oauth_clients WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3', [
          cursor.createdAt,
          cursor.id,
          q.limit + 1,
        ]);
      } else {
        rows = await db.query<OAuthClientRow>('SELECT * FROM oauth_clients ORDER BY created_at, id LIMIT $1', [q.limit + 1]);
      }
      const clients = rows.slice(0, q.limit).map(oauthClientFromRow);
      const last = clients[clients.length - 1];
      return { clients, nextCursor: rows.length > q.limit && last ? encodeOAuthClientCursor(last.createdAt, last.id) : null };
    },

    async updateOAuthClient(id, change, now) {
      const rows = await db.query<OAuthClientRow>(
        'UPDATE oauth_clients SET name = $2, metadata = $3::jsonb, first_party = $4, updated_at = $5 WHERE id = $1 RETURNING *',
        [id, change.name, JSON.stringify(change.metadata), change.firstParty, now],
      );
      return rows[0] ? oauthClientFromRow(rows[0]) : null;
    },

    async setOAuthClientSecret(id, secretHash, now) {
      return (await db.execute('UPDATE oauth_clients SET secret_hash = $2, secret_rotated_at = $3, updated_at = $3 WHERE id = $1', [id, secretHash, now])) === 1;
    },

    async deleteOAuthClient(id) {
      return (await db.execute('DELETE FROM oauth_clients WHERE id = $1', [id])) === 1;
    },
  };
}
