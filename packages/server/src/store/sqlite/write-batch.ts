import type Database from 'better-sqlite3';
import { sqliteError } from './errors.js';

interface Unit {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** Thrown inside a batch when one of its units failed; carries which one. */
class UnitFailed {
  constructor(readonly index: number, readonly cause: unknown) {}
}

/**
 * Group commit for the embedded store. The write units queued during one event-loop turn run
 * together in one `BEGIN IMMEDIATE ... COMMIT` at the end of that turn (`setImmediate`), and each
 * caller's promise settles only after that COMMIT, so nothing is answered before it is durable
 * as far as `synchronous = NORMAL` makes anything durable.
 *
 * Why: in WAL mode every commit appends each page its transaction changed plus a commit frame,
 * with its own lock calls, and now and then a checkpoint with `fsync`. Rotations or logins that
 * arrive in the same turn touch the same index and table pages; together they pay for them once.
 *
 * A unit is a synchronous function of the database: no `await` inside. The units of a batch run
 * in the order they were queued, each seeing the writes of those before it, exactly as if each
 * had been its own transaction in that order. If a unit throws, the batch is rolled back and its
 * units run again, one transaction each, so that only the failing one fails. An error of the
 * transaction itself (`BEGIN` that stays busy past `busy_timeout`, a failed `COMMIT`) fails every
 * unit of the batch, as it would have failed each alone. A caller's promise rejects with the
 * Store contract's error (an outage as DatabaseUnavailableError, see errors.ts).
 */
export class SqliteWriteBatch {
  #queue: Unit[] = [];
  readonly #batchTx: (units: Unit[]) => unknown[];
  readonly #singleTx: (fn: () => unknown) => unknown;

  constructor(db: Database.Database) {
    this.#batchTx = db.transaction((units: Unit[]) => {
      const results = new Array<unknown>(units.length);
      for (let i = 0; i < units.length; i++) {
        try {
          results[i] = units[i]!.fn();
        } catch (err) {
          throw new UnitFailed(i, err);
        }
      }
      return results;
    }).immediate;
    this.#singleTx = db.transaction((fn: () => unknown) => fn()).immediate;
  }

  /** Queues `fn` for the transaction at the end of this turn; settles with its result after COMMIT. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#queue.push({ fn, resolve: resolve as (v: unknown) => void, reject }) === 1) setImmediate(this.flush);
    });
  }

  /** Runs what is queued now (also called before the database closes). */
  readonly flush = (): void => {
    const units = this.#queue;
    if (units.length === 0) return;
    this.#queue = [];
    if (units.length === 1) return this.#runAlone(units[0]!);
    let results: unknown[];
    try {
      results = this.#batchTx(units);
    } catch (err) {
      if (err instanceof UnitFailed) {
        for (const unit of units) this.#runAlone(unit);
      } else {
        const failure = sqliteError(err);
        for (const unit of units) unit.reject(failure);
      }
      return;
    }
    for (let i = 0; i < units.length; i++) units[i]!.resolve(results[i]);
  };

  #runAlone(unit: Unit): void {
    let result: unknown;
    try {
      result = this.#singleTx(unit.fn);
    } catch (err) {
      unit.reject(sqliteError(err));
      return;
    }
    unit.resolve(result);
  }
}
