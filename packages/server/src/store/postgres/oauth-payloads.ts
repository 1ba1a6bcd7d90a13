import { decodeGrantCursor, grantPage, oauthGrantFromRow, oauthPayloadFromRow, type OAuthPayloadRow } from '../oauth-rows.js';
import type { OAuthPayloadStore } from '../types.js';
import type { PgConnection } from './connection.js';

// A Grant row's creation time is its payload's `iat` (seconds): the listings sort on it.
const IAT = "(payload->>'iat')::bigint";
const LIVE = '(expires_at IS NULL OR expires_at > $2)';

/**
 * oidc-provider's storage on PostgreSQL: one row per (model, id), each method one statement
 * (the upsert is `ON CONFLICT DO UPDATE`, the consume one conditional UPDATE), so instances
 * sharing the database see each other's writes at once.
 */
export function postgresOAuthPayloads(db: PgConnection): OAuthPayloadStore {
  async function one(sql: string, values: unknown[]) {
    const rows = await db.query<OAuthPayloadRow>(sql, values);
    return rows[0] ? oauthPayloadFromRow(rows[0]) : null;
  }

  return {
    async upsertOAuthPayload(r) {
      await db.execute(
        `INSERT INTO oauth_payloads (model, id, payload, grant_id, user_code, uid, account_id, client_id, expires_at, consumed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
           user_code = excluded.user_code, uid = excluded.uid, account_id = excluded.account_id,
           client_id = excluded.client_id, expires_at = excluded.expires_at, consumed_at = excluded.consumed_at`,
        [r.model, r.id, JSON.stringify(r.payload), r.grantId, r.userCode, r.uid, r.accountId, r.clientId, r.expiresAt, r.consumedAt],
      );
    },

    findOAuthPayload(model, id, now) {
      return one(`SELECT * FROM oauth_payloads WHERE model = $1 AND id = $3 AND ${LIVE}`, [model, now, id]);
    },

    findOAuthPayloadByUid(model, uid, now) {
      return one(`SELECT * FROM oauth_payloads WHERE model = $1 AND uid = $3 AND ${LIVE} LIMIT 1`, [model, now, uid]);
    },

    findOAuthPayloadByUserCode(model, userCode, now) {
      return one(`SELECT * FROM oauth_payloads WHERE model = $1 AND user_code = $3 AND ${LIVE} LIMIT 1`, [model, now, userCode]);
    },

    async consumeOAuthPayload(model, id, now) {
      // Only an unconsumed row: the first time stays (the reuse detection compares against it) and
      // the one caller whose UPDATE changed the row is the winner (row lock; READ COMMITTED re-checks).
      return (await db.execute('UPDATE oauth_payloads SET consumed_at = $3 WHERE model = $1 AND id = $2 AND consumed_at IS NULL', [model, id, now])) === 1;
    },

    async destroyOAuthPayload(model, id) {
      await db.execute('DELETE FROM oauth_payloads WHERE model = $1 AND id = $2', [model, id]);
    },

    revokeOAuthGrant(grantId) {
      return db.execute("DELETE FROM oauth_payloads WHERE grant_id = $1 OR (model = 'Grant' AND id = $1)", [grantId]);
    },

    async listOAuthGrantsForUser(accountId, now) {
      const rows = await db.query<OAuthPayloadRow>(
        `SELECT * FROM oauth_payloads WHERE account_id = $1 AND model = 'Grant' AND ${LIVE} ORDER BY ${IAT} DESC, id DESC`,
        [accountId, now],
      );
      return rows.map(oauthGrantFromRow);
    },

    async listOAuthGrantsForClient(clientId, query, now) {
      const limit = Math.max(1, Math.floor(query.limit));
      if (query.cursor == null) {
        const rows = await db.query<OAuthPayloadRow>(
          `SELECT * FROM oauth_payloads WHERE client_id = $1 AND model = 'Grant' AND ${LIVE} ORDER BY ${IAT} DESC, id DESC LIMIT $3`,
          [clientId, now, limit + 1],
        );
        return grantPage(rows, limit);
      }
      const after = decodeGrantCursor(query.cursor);
      if (after === null) return { grants: [], nextCursor: null };
      const rows = await db.query<OAuthPayloadRow>(
        `SELECT * FROM oauth_payloads WHERE client_id = $1 AND model = 'Grant' AND ${LIVE}
           AND (${IAT} < $3 OR (${IAT} = $3 AND id < $4))
         ORDER BY ${IAT} DESC, id DESC LIMIT $5`,
        [clientId, now, after.iat, after.id, limit + 1],
      );
      return grantPage(rows, limit);
    },

    purgeExpiredOAuthPayloads(now, limit) {
      return db.execute(
        `DELETE FROM oauth_payloads WHERE ctid IN
           (SELECT ctid FROM oauth_payloads WHERE expires_at IS NOT NULL AND expires_at <= $1 LIMIT $2)`,
        [now, limit],
      );
    },
  };
}
