/**
 * What every case file of the Store conformance suite shares: the fixtures (a fixed clock, new
 * users, sessions and keys) and the context the runner (../conformance.ts) gives each case file.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { NewSession, NewUser, RotateInput, RotateResult, SessionRecord, SigningKeyRecord, Store, UserRecord } from '../../../src/store/types.js';

export const T0 = Date.UTC(2026, 0, 1);
export const SECOND = 1000;
export const DAY = 86_400_000;
export const IDLE = 7 * DAY;
export const MAX_AGE = 30 * DAY;

export function hash(): string {
  return randomBytes(32).toString('hex');
}

export function newUser(overrides: Partial<NewUser> = {}): NewUser {
  const id = randomUUID();
  return {
    id,
    email: `u-${id.slice(0, 8)}@example.com`,
    name: null,
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo',
    roles: [],
    emailVerified: false,
    createdAt: T0,
    ...overrides,
  };
}

export function newSession(userId: string, overrides: Partial<NewSession> = {}): NewSession {
  const createdAt = overrides.createdAt ?? T0;
  return {
    id: randomUUID(),
    userId,
    createdAt,
    expiresAt: createdAt + MAX_AGE,
    idleExpiresAt: createdAt + IDLE,
    userAgent: 'conformance/1.0',
    ip: '127.0.0.1',
    refreshTokenHash: hash(),
    authTime: createdAt,
    amr: ['pwd'],
    ...overrides,
  };
}

export function key(kid: string, createdAt: number, overrides: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  return {
    kid,
    alg: 'ES256',
    privateJwk: JSON.stringify({ kty: 'EC', kid, d: 'private' }),
    publicJwk: JSON.stringify({ kty: 'EC', kid, use: 'sig' }),
    createdAt,
    retiredAt: null,
    expiresAt: null,
    ...overrides,
  };
}

export function kinds(results: RotateResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) {
    const k = r.kind === 'invalid' ? `invalid:${r.reason}` : r.kind;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** What an adapter's test file gives the suite besides a way to make a store. */
export interface ConformanceOptions {
  /**
   * Total row count of each table holding per-user data (users, sessions, refresh_tokens,
   * one_time_tokens, security_events, factors, recovery_codes), read with the adapter's own SQL: proves that deleteUser
   * leaves no orphan row behind, which the Store interface alone cannot see.
   */
  countRows(store: Store): Promise<Record<string, number>>;
  /**
   * For every table of the schema (read from the database's catalogue, not from a list), the
   * number of rows with any column whose text contains any of `needles` (a user's id, email,
   * session id): proves that a deletion leaves nothing of the user in a table added later too.
   */
  rowsMentioning(store: Store, needles: readonly string[]): Promise<Record<string, number>>;
  /**
   * A store whose database cannot be reached (SQLite: its connection closed; PostgreSQL: a
   * server address nobody listens on). The case closes it.
   */
  unreachableStore(): Promise<Store>;
  /**
   * Runs `UPDATE audit_log SET action = 'tampered'` with the adapter's own SQL (the Store has no
   * such method): proves the table itself refuses to change an entry.
   */
  tamperAudit(store: Store): Promise<void>;
}

/** What a case file works with; `store` is the running case's own. */
export interface StoreCaseContext {
  /** A new, empty store, migrated before the case and closed after it. */
  readonly store: Store;
  /** The versions that store's `migrate()` applied. */
  readonly applied: number[];
  /** A further new, empty, not yet migrated store; the case closes it. */
  makeStore(): Promise<Store>;
  /** ConformanceOptions.countRows of the case's store. */
  countRows(): Promise<Record<string, number>>;
  /** ConformanceOptions.rowsMentioning of the case's store. */
  rowsMentioning(needles: readonly string[]): Promise<Record<string, number>>;
  /** ConformanceOptions.unreachableStore. */
  unreachableStore(): Promise<Store>;
  /** ConformanceOptions.tamperAudit of the case's store. */
  tamperAudit(): Promise<void>;
  /** Creates a user in the case's store (newUser with `overrides`). */
  user(overrides?: Partial<NewUser>): Promise<UserRecord>;
  /** Creates a session of `userId`; `token` is its first refresh token's hash. */
  session(userId: string, overrides?: Partial<NewSession>): Promise<SessionRecord & { token: string }>;
  /** Rotates `oldTokenHash` to a new random token (grace 10 s, idle timeout IDLE unless `extra` says otherwise). */
  rotate(oldTokenHash: string, now: number, extra?: Partial<RotateInput>): Promise<RotateResult>;
}
