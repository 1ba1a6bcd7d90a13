import { exchangeCodeFromRow, identityFromRow, oauthStateFromRow, type ExchangeCodeRow, type IdentityRow, type OAuthStateRow } from '../rows.js';
import type { IdentityStore } from '../types.js';
import type { PgConnection } from './connection.js';

/**
 * The identities concern on PostgreSQL. Each "exactly one" is one statement: an insert against
 * the unique index on (provider, subject), a DELETE ... RETURNING (concurrent deletes of one row
 * queue on its lock; the second finds it gone).
 */
export function postgresIdentities(db: PgConnection): IdentityStore {
  return {
    async createIdentity(i) {
      const n = await db.execute(
        `INSERT INTO identities (id, user_id, provider, subject, email, email_verified, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (provider, subject) DO NOTHING`,
        [i.id, i.userId, i.provider, i.subject, i.email, i.emailVerified, i.createdAt],
      );
      return n === 1;
    },

    async findIdentity(provider, subject) {
      const rows = await db.query<IdentityRow>('SELECT * FROM identities WHERE provider = $1 AND subject = $2', [provider, subject]);
      return rows[0] ? identityFromRow(rows[0]) : null;
    },

    async listIdentities(userId) {
      const rows = await db.query<IdentityRow>('SELECT * FROM identities WHERE user_id = $1 ORDER BY created_at, id', [userId]);
      return rows.map(identityFromRow);
    },

    async deleteIdentity(userId, id, keepOne = false) {
      if (!keepOne) return (await db.execute('DELETE FROM identities WHERE id = $1 AND user_id = $2', [id, userId])) === 1;
      // The user's row lock queues concurrent unlinks of one user; the DELETE that follows takes a
      // new snapshot (READ COMMITTED), so it counts what the one before it left.
      return db.tx(async (c) => {
        await c.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId]);
        const r = await c.query(
          'DELETE FROM identities WHERE id = $1 AND user_id = $2 AND (SELECT count(*) FROM identities WHERE user_id = $2) > 1',
          [id, userId],
        );
        return r.rowCount === 1;
      });
    },

    async touchIdentity(id, email, emailVerified, now) {
      await db.execute('UPDATE identities SET email = $2, email_verified = $3, last_used_at = $4 WHERE id = $1', [id, email, emailVerified, now]);
    },

    async createOAuthState(st) {
      await db.execute(
        `INSERT INTO oauth_states (state_hash, browser_hash, provider, nonce, code_verifier, redirect_to, app_code_challenge, link_user_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [st.stateHash, st.browserHash, st.provider, st.nonce, st.codeVerifier, st.redirectTo, st.appCodeChallenge, st.linkUserId, st.createdAt, st.expiresAt],
      );
    },

    async consumeOAuthState(stateHash, now) {
      const rows = await db.query<OAuthStateRow>('DELETE FROM oauth_states WHERE state_hash = $1 AND expires_at > $2 RETURNING *', [stateHash, now]);
      return rows[0] ? oauthStateFromRow(rows[0]) : undefined;
    },

    async createExchangeCode(code) {
      await db.execute(
        `INSERT INTO oauth_exchange_codes (code_hash, user_id, identity_id, purpose, app_code_challenge, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [code.codeHash, code.userId, code.identityId, code.purpose, code.appCodeChallenge, code.createdAt, code.expiresAt],
      );
    },

    async consumeExchangeCode(codeHash, now) {
      const rows = await db.query<ExchangeCodeRow>('DELETE FROM oauth_exchange_codes WHERE code_hash = $1 AND expires_at > $2 RETURNING *', [codeHash, now]);
      return rows[0] ? exchangeCodeFromRow(rows[0]) : undefined;
    },

    async purgeOAuthStates(now, limit) {
      const states = await db.execute(
        'DELETE FROM oauth_states WHERE state_hash IN (SELECT state_hash FROM oauth_states WHERE expires_at <= $1 LIMIT $2)',
        [now, limit],
      );
      const codes = await db.execute(
        'DELETE FROM oauth_exchange_codes WHERE code_hash IN (SELECT code_hash FROM oauth_exchange_codes WHERE expires_at <= $1 LIMIT $2)',
        [now, limit],
      );
      return states + codes;
    },
  };
}
