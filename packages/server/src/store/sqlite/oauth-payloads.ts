import type Database from 'better-sqlite3';
import { decodeGrantCursor, grantPage, oauthGrantFromRow, oauthPayloadFromRow, type OAuthPayloadRow } from '../oauth-rows.js';
import type { OAuthPayloadStore } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { guardOutages } from './errors.js';

// A Grant row's creation time is its payload's `iat` (seconds): the listings sort on it.
const IAT = "json_extract(payload, '$.iat')";

function preparePayloadStatements(db: Database.Database) {
  return {
    upsert: db.prepare(
      `INSERT INTO oauth_payloads (model, id, payload, grant_id, user_code, uid, account_id, client_id, expires_at, consumed_at)
       VALUES (@model, @id, @payload, @grantId, @userCode, @uid, @accountId, @clientId, @expiresAt, @consumedAt)
       ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
         user_code = excluded.user_code, uid = excluded.uid, account_id = excluded.account_id,
         client_id = excluded.client_id, expires_at = excluded.expires_at, consumed_at = excluded.consumed_at`,
    ),
    find: db.prepare<[string, string, number], OAuthPayloadRow>(
      'SELECT * FROM oauth_payloads WHERE model = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?)',
    ),
    findByUid: db.prepare<[string, string, number], OAuthPayloadRow>(
      'SELECT * FROM oauth_payloads WHERE model = ? AND uid = ? AND (expires_at IS NULL OR expires_at > ?) LIMIT 1',
    ),
    findByUserCode: db.prepare<[string, string, number], OAuthPayloadRow>(
      'SELECT * FROM oauth_payloads WHERE model = ? AND user_code = ? AND (expires_at IS NULL OR expires_at > ?) LIMIT 1',
    ),
    // Only an unconsumed row: the first time stays (the reuse detection compares against it) and
    // the one caller that changed the row is the winner.
    consume: db.prepare('UPDATE oauth_payloads SET consumed_at = ? WHERE model = ? AND id = ? AND consumed_at IS NULL'),
    destroy: db.prepare('DELETE FROM oauth_payloads WHERE model = ? AND id = ?'),
    revokeGrant: db.prepare("DELETE FROM oauth_payloads WHERE grant_id = ? OR (model = 'Grant' AND id = ?)"),
    grantsOfUser: db.prepare<[string, number], OAuthPayloadRow>(
      `SELECT * FROM oauth_payloads WHERE account_id = ? AND model = 'Grant' AND (expires_at IS NULL OR expires_at > ?)
       ORDER BY ${IAT} DESC, id DESC`,
    ),
    grantsOfClient: db.prepare<[string, number, number], OAuthPayloadRow>(
      `SELECT * FROM oauth_payloads WHERE client_id = ? AND model = 'Grant' AND (expires_at IS NULL OR expires_at > ?)
       ORDER BY ${IAT} DESC, id DESC LIMIT ?`,
    ),
    grantsOfClientAfter: db.prepare<[string, number, number, number, string, number], OAuthPayloadRow>(
      `SELECT * FROM oauth_payloads WHERE client_id = ? AND model = 'Grant' AND (expires_at IS NULL OR expires_at > ?)
         AND (${IAT} < ? OR (${IAT} = ? AND id < ?))
       ORDER BY ${IAT} DESC, id DESC LIMIT ?`,
    ),
    purge: db.prepare(
      `DELETE FROM oauth_payloads WHERE rowid IN
         (SELECT rowid FROM oauth_payloads WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)`,
    ),
  };
}

/**
 * oidc-provider's storage on SQLite: one row per (model, id), each method one statement (the
 * upsert and the consume are atomic on their own; no read-modify-write).
 */
export function sqliteOAuthPayloads(c: SqliteConnection): OAuthPayloadStore {
  const s = c.statements(preparePayloadStatements);

  return guardOutages<OAuthPayloadStore>({
    upsertOAuthPayload(r) {
      s().upsert.run({ ...r, payload: JSON.stringify(r.payload) });
    },

    findOAuthPayload(model, id, now) {
      const row = s().find.get(model, id, now);
      return row ? oauthPayloadFromRow(row) : null;
    },

    findOAuthPayloadByUid(model, uid, now) {
      const row = s().findByUid.get(model, uid, now);
      return row ? oauthPayloadFromRow(row) : null;
    },

    findOAuthPayloadByUserCode(model, userCode, now) {
      const row = s().findByUserCode.get(model, userCode, now);
      return row ? oauthPayloadFromRow(row) : null;
    },

    consumeOAuthPayload(model, id, now) {
      return s().consume.run(now, model, id).changes === 1;
    },

    destroyOAuthPayload(model, id) {
      s().destroy.run(model, id);
    },

    revokeOAuthGrant(grantId) {
      return s().revokeGrant.run(grantId, grantId).changes;
    },

    listOAuthGrantsForUser(accountId, now) {
      return s().grantsOfUser.all(accountId, now).map(oauthGrantFromRow);
    },

    listOAuthGrantsForClient(clientId, query, now) {
      const limit = Math.max(1, Math.floor(query.limit));
      if (query.cursor == null) return grantPage(s().grantsOfClient.all(clientId, now, limit + 1), limit);
      const after = decodeGrantCursor(query.cursor);
      if (after === null) return { grants: [], nextCursor: null };
      return grantPage(s().grantsOfClientAfter.all(clientId, now, after.iat, after.iat, after.id, limit + 1), limit);
    },

    purgeExpiredOAuthPayloads(now, limit) {
      return s().purge.run(now, limit).changes;
    },
  });
}
