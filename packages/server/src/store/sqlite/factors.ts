import type Database from 'better-sqlite3';
import { factorFromRow, type FactorRow } from '../rows.js';
import type { FactorStore } from '../types.js';
import type { SqliteConnection } from './connection.js';
import { guardOutages } from './errors.js';

function prepareFactorStatements(db: Database.Database) {
  return {
    // The partial unique index allows one TOTP factor per user: a pending one is replaced, an
    // active one is left alone (the WHERE of DO UPDATE), which `changes` then reports as 0.
    putPending: db.prepare(
      `INSERT INTO factors (id, user_id, kind, secret, created_at) VALUES (@id, @userId, @kind, @secret, @createdAt)
       ON CONFLICT (user_id) WHERE kind = 'totp' DO UPDATE
         SET id = excluded.id, secret = excluded.secret, created_at = excluded.created_at,
             last_used_step = NULL, last_used_at = NULL
         WHERE factors.confirmed_at IS NULL`,
    ),
    listFactors: db.prepare<[string], FactorRow>('SELECT * FROM factors WHERE user_id = ? ORDER BY created_at, id'),
    confirm: db.prepare(
      `UPDATE factors SET confirmed_at = @now, last_used_step = @step, last_used_at = @now
       WHERE id = @id AND user_id = @userId AND confirmed_at IS NULL`,
    ),
    useStep: db.prepare(
      `UPDATE factors SET last_used_step = @step, last_used_at = @now
       WHERE id = @id AND confirmed_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < @step)`,
    ),
    deleteFactor: db.prepare('DELETE FROM factors WHERE id = ? AND user_id = ?'),
    hasActive: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM factors WHERE user_id = ? AND confirmed_at IS NOT NULL LIMIT 1'),
    deleteCodes: db.prepare('DELETE FROM recovery_codes WHERE user_id = ?'),
    insertCode: db.prepare('INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)'),
    spendCode: db.prepare('UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL'),
    countCodes: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM recovery_codes WHERE user_id = ? AND used_at IS NULL'),
  };
}

/**
 * The second factors concern on SQLite. Every "exactly one" of the contract is one conditional
 * UPDATE (or a BEGIN IMMEDIATE transaction around it): the statement runs without yielding in
 * this process, and another process on the same file waits for the write lock, then re-checks
 * the condition on the committed row.
 */
export function sqliteFactors(c: SqliteConnection): FactorStore {
  const s = c.statements(prepareFactorStatements);

  function replaceCodes(userId: string, codeHashes: readonly string[], now: number): void {
    s().deleteCodes.run(userId);
    for (const h of codeHashes) s().insertCode.run(userId, h, now);
  }

  const confirm = c.db.transaction((userId: string, factorId: string, step: number, now: number, codes: readonly string[]): boolean => {
    if (s().confirm.run({ id: factorId, userId, step, now }).changes !== 1) return false;
    replaceCodes(userId, codes, now);
    return true;
  });

  const replace = c.db.transaction(replaceCodes);

  const remove = c.db.transaction((userId: string, factorId: string): boolean => {
    if (s().deleteFactor.run(factorId, userId).changes !== 1) return false;
    if (!s().hasActive.get(userId)) s().deleteCodes.run(userId);
    return true;
  });

  return guardOutages<FactorStore>({
    putPendingFactor(f) {
      return s().putPending.run(f).changes === 1;
    },

    listFactors(userId) {
      return s().listFactors.all(userId).map(factorFromRow);
    },

    confirmFactor(userId, factorId, step, now, recoveryCodeHashes) {
      return confirm.immediate(userId, factorId, step, now, recoveryCodeHashes);
    },

    useTotpStep(factorId, step, now) {
      return s().useStep.run({ id: factorId, step, now }).changes === 1;
    },

    deleteFactor(userId, factorId) {
      return remove.immediate(userId, factorId);
    },

    replaceRecoveryCodes(userId, codeHashes, now) {
      replace.immediate(userId, codeHashes, now);
    },

    spendRecoveryCode(userId, codeHash, now) {
      return s().spendCode.run(now, userId, codeHash).changes === 1;
    },

    countRecoveryCodes(userId) {
      return s().countCodes.get(userId)!.n;
    },
  });
}
