/**
 * The revocation feed (docs/verify.md, "Revocation feed"): what was revoked, as entries a service
 * that verifies access tokens offline can apply, for as long as a token they affect can be alive.
 * The store writes the entries in the transactions of the revocations (store/contract/revocations.ts);
 * this file pages them (GET /auth/revocations) and fans the new ones out to the open streams of
 * this instance (RevocationHub, one poll per instance whatever the number of streams).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../../clock.js';
import type { TokensConfig } from '../../config.js';
import { compareRevocationCursors, parseRevocationCursor } from '../../store/revocation-cursor.js';
import type { RevocationRecord, RevocationStore } from '../../store/types.js';

/** What a verifier may add to a token's `exp` at most (docs/verify.md: leeway up to 60 s). */
export const VERIFIER_LEEWAY_ALLOWANCE_MS = 60_000;
/** Entries per page when the request does not say (GET /auth/revocations `limit`). */
export const DEFAULT_PAGE_SIZE = 500;
export const MAX_PAGE_SIZE = 1000;

/** One entry as the feed publishes it: nothing about the user beyond their id. */
export type FeedEntry =
  | { type: 'session'; sid: string; cursor: string; exp: number }
  | { type: 'user'; sub: string; before: number; cursor: string; exp: number };

/**
 * How long an entry is kept: a token issued at the revocation lives ACCESS_TOKEN_TTL, and a
 * verifier may accept it up to 60 s past its `exp`.
 *
 * @example
 * feedWindowMs({ accessTokenTtlMs: 900_000 }) // 960_000
 */
export function feedWindowMs(tokens: Pick<TokensConfig, 'accessTokenTtlMs'>): number {
  return tokens.accessTokenTtlMs + VERIFIER_LEEWAY_ALLOWANCE_MS;
}

/** The published shape of a stored entry; `exp` = revocation time + the window, in epoch seconds. */
export function feedEntry(r: RevocationRecord, windowMs: number): FeedEntry {
  const exp = Math.ceil((r.revokedAt + windowMs) / 1000);
  return r.kind === 'user'
    ? { type: 'user', sub: r.subject, before: r.iatBefore ?? Math.floor(r.revokedAt / 1000) + 1, cursor: r.cursor, exp }
    : { type: 'session', sid: r.subject, cursor: r.cursor, exp };
}

/**
 * The newest revocation time whose entry has expired at `now`: an entry revoked at `r` stays
 * while `now <= r + window` (a token issued at `r` is accepted by a verifier until then).
 */
export function expiredUpTo(now: number, windowMs: number): number {
  return now - windowMs - 1;
}

export interface FeedPage {
  entries: FeedEntry[];
  /** Where the next page starts: the last entry's cursor, else the cursor asked after (or "0-0"). */
  next: string;
  hasMore: boolean;
}

/** The cursor that starts at the oldest live entry. */
export const FEED_START = '0-0';

/**
 * A page of live entries after `after` (a cursor already checked by parseRevocationCursor).
 *
 * @example
 * const page = await revocationPage(store, clock(), windowMs, '0-0', 500);
 */
export async function revocationPage(store: RevocationStore, now: number, windowMs: number, after: string, limit: number): Promise<FeedPage> {
  const { entries, hasMore } = await store.listRevocations(parseRevocationCursor(after), limit, expiredUpTo(now, windowMs));
  const last = entries[entries.length - 1];
  return { entries: entries.map((e) => feedEntry(e, windowMs)), next: last ? last.cursor : after, hasMore };
}

/** What a stream of this instance is given by the hub. */
export interface FeedSubscriber {
  /** New entries, in feed order (the subscriber drops those at or before what it has sent). */
  deliver(entries: readonly FeedEntry[]): void;
  /** The instance is closing: end the stream. */
  close(): void;
}

export interface RevocationHubOptions {
  store: RevocationStore;
  clock: Clock;
  windowMs: number;
  log: FastifyBaseLogger;
  /** Between the end of one poll and the start of the next (default 250 ms). */
  pollIntervalMs?: number;
}

/** Between polls: an entry written through any instance reaches this one's streams within it plus a query. */
export const POLL_INTERVAL_MS = 250;

/**
 * The live part of the feed on one instance: while at least one stream is open it reads the
 * entries after the newest it has seen, one query every POLL_INTERVAL_MS (not one per stream),
 * and hands them to every stream. Entries written through any instance sharing the database
 * (PostgreSQL, or cluster workers on one SQLite file) arrive the same way. Idle (no stream), it
 * does not query at all.
 */
export class RevocationHub {
  readonly #store: RevocationStore;
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #log: FastifyBaseLogger;
  readonly #interval: number;
  readonly #subscribers = new Set<FeedSubscriber>();
  /** The newest cursor handed out; null while stopped. */
  #tail: string | null = null;
  /** Resolves once #tail is known: a stream reads its backlog only after that (see subscribe). */
  #starting: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #failing = false;

  constructor(options: RevocationHubOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#windowMs = options.windowMs;
    this.#log = options.log;
    this.#interval = options.pollIntervalMs ?? POLL_INTERVAL_MS;
  }

  get size(): number {
    return this.#subscribers.size;
  }

  /**
   * Adds a stream; resolves once the hub knows where the feed ends. Why the stream waits for
   * that before it reads its backlog: every entry settled before the hub read its tail is then
   * in the backlog, and every entry after the tail comes through `deliver`, so none falls
   * between. (The stream drops what both give it, by cursor.)
   */
  async subscribe(subscriber: FeedSubscriber): Promise<void> {
    if (this.#closed) {
      subscriber.close();
      return;
    }
    this.#subscribers.add(subscriber);
    this.#starting ??= this.#start();
    try {
      await this.#starting;
    } catch (err) {
      this.#subscribers.delete(subscriber);
      throw err;
    }
  }

  unsubscribe(subscriber: FeedSubscriber): void {
    this.#subscribers.delete(subscriber);
  }

  /** Ends every stream and stops polling (the app is closing). */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (const s of [...this.#subscribers]) s.close();
    this.#subscribers.clear();
  }

  /** Reads where the feed ends and starts polling; failing (database down), the next stream tries again. */
  async #start(): Promise<void> {
    try {
      this.#tail = (await this.#store.lastRevocationCursor()) ?? FEED_START;
    } catch (err) {
      this.#starting = null;
      throw err;
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#poll(), this.#interval);
    this.#timer.unref();
  }

  async #poll(): Promise<void> {
    this.#timer = null;
    if (this.#subscribers.size === 0) {
      // Nobody listens: stop; the next stream starts again from the feed's end then.
      this.#tail = null;
      this.#starting = null;
      return;
    }
    try {
      for (;;) {
        const page = await revocationPage(this.#store, this.#clock(), this.#windowMs, this.#tail!, MAX_PAGE_SIZE);
        if (page.entries.length > 0) {
          this.#tail = page.next;
          for (const s of [...this.#subscribers]) s.deliver(page.entries);
        }
        if (!page.hasMore || this.#closed) break;
      }
      if (this.#failing) this.#log.info('revocation feed: the database answers again');
      this.#failing = false;
    } catch (err) {
      this.#reportFailure(err);
    }
    this.#schedule();
  }

  /** Logged once per outage; the streams stay open and catch up when the database answers. */
  #reportFailure(err: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#log.warn({ err: { message: (err as Error).message } }, 'revocation feed: cannot read new entries; retrying');
  }
}

/** Whether `cursor` comes after `than` (both valid). */
export function isAfter(cursor: string, than: string): boolean {
  return compareRevocationCursors(cursor, than) > 0;
}
