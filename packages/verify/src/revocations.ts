import type { AccessTokenClaims } from './claims.js';
import { SseParser } from './sse-parser.js';

/** What to do while the revocation feed cannot be reached. */
export type FeedUnavailablePolicy = 'keep' | { readonly refuseAfterSeconds: number };

/** The `revocations` option of the verifier: follow Latchkey's revocation feed. */
export interface RevocationOptions {
  /** The feed, e.g. "https://auth.example.com/auth/revocations"; default the issuer + "/auth/revocations". */
  url?: string;
  /** Latchkey's `REVOCATION_FEED_TOKEN` (not a user's access token). */
  token: string;
  /**
   * `'keep'` (default): while the feed is unreachable, keep verifying with the revocations already
   * known (logged once). `{ refuseAfterSeconds: N }`: answer 503 to every token once the last
   * contact with the feed is more than N seconds old (N ≥ 30: a live stream proves itself by a
   * heartbeat every 15 s), and until the feed was read once after start.
   */
  onFeedUnavailable?: FeedUnavailablePolicy;
  /** Longest wait between two reconnection attempts, ms; default 30000. */
  reconnectMaxMs?: number;
  /** Where the follower reports the feed going away and coming back; default console.warn. */
  log?: (message: string) => void;
  /** The fetch used for the feed; default the verifier's. */
  fetch?: typeof globalThis.fetch;
}

/** A feed entry as Latchkey publishes it (docs/verify.md, "Revocation feed"). */
export type RevocationEntry =
  | { readonly type: 'session'; readonly sid: string; readonly exp: number; readonly cursor: string }
  | { readonly type: 'user'; readonly sub: string; readonly before: number; readonly exp: number; readonly cursor: string };

/** Counters of the follower, part of `verifier.stats`. */
export interface RevocationStats {
  /** Revoked sessions currently remembered. */
  revokedSessions: number;
  /** Users with a revocation currently remembered. */
  revokedUsers: number;
  /** Whether the event stream is open now. */
  connected: boolean;
  /** Clock time (ms) of the last answer or heartbeat from the feed; undefined before the first. */
  lastContactAt: number | undefined;
  /** Connections to the stream opened so far (the first one included). */
  streamConnections: number;
}

interface UserRevocation {
  before: number;
  exp: number;
}

/** Entries are dropped this often once their `exp` has passed. */
const SWEEP_INTERVAL_MS = 30_000;
/** A stream silent for this long (three missed heartbeats) is presumed dead and reopened. */
const STREAM_IDLE_TIMEOUT_MS = 45_000;
const REQUEST_TIMEOUT_MS = 10_000;
const PAGE_LIMIT = 1000;
const MIN_REFUSE_AFTER_SECONDS = 30;

const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 256;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The entry if `raw` is one this follower understands; unknown kinds are skipped (newer servers). */
function toEntry(raw: unknown): RevocationEntry | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const e = raw as Record<string, unknown>;
  if (!isFiniteNumber(e.exp)) return undefined;
  if (e.type === 'session' && isNonEmptyString(e.sid)) return e as unknown as RevocationEntry;
  if (e.type === 'user' && isNonEmptyString(e.sub) && isFiniteNumber(e.before)) return e as unknown as RevocationEntry;
  return undefined;
}

class FeedHttpError extends Error {
  constructor(
    readonly status: number,
    url: string,
  ) {
    const hint =
      status === 401
        ? ': the feed refused the credential (check REVOCATION_FEED_TOKEN)'
        : status === 404
          ? ': no feed there (is REVOCATION_FEED_TOKEN set on Latchkey? is the URL right?)'
          : '';
    super(`${url} answered ${status}${hint}`);
  }
}

/**
 * Follows Latchkey's revocation feed and remembers what it revoked until no token it affects can
 * still be alive. On start it pages `GET <url>?after=` to the end, then follows `<url>/stream`
 * (Server-Sent Events); after a disconnection it reconnects with backoff and resumes with
 * `Last-Event-ID` from the last entry it applied, so no entry is missed. Entries are dropped once
 * their `exp` has passed, so memory is bounded by the revocations of one token lifetime.
 *
 * `admits(claims, now)` is the per-request check: one comparison and two Map lookups.
 * Created by the Verifier when given the `revocations` option; `verifier.close()` stops it.
 *
 * @example
 * const verifier = createVerifier({ issuer, audience: 'latchkey', jwksUrl,
 *   revocations: { token: process.env.REVOCATION_FEED_TOKEN! } });
 * await verifier.revocationsReady(); // optional: the backlog is read
 */
export class RevocationFollower {
  readonly url: string;
  readonly streamUrl: string;
  /**
   * Clock time (ms) from which every token is refused as "feed unavailable". Infinity under
   * 'keep'; under refuseAfterSeconds: -Infinity until the first catch-up, then last contact + N s.
   */
  refuseFrom: number;
  /** The cursor of the last entry applied (what a reconnection resumes from). */
  cursor: string | undefined;
  /**
   * Moves on every entry that revokes something new: a token found admissible at this version
   * is still admissible while it does not move (the verifier's token cache keeps it per token).
   */
  version = 0;
  private readonly sessions = new Map<string, number>();
  private readonly users = new Map<string, UserRevocation>();
  private readonly refuseAfterMs: number | undefined;
  private readonly reconnectMaxMs: number;
  private readonly token: string;
  private readonly fetch: typeof globalThis.fetch;
  private readonly clock: () => number;
  private readonly log: (message: string) => void;
  private readonly stopping = new AbortController();
  private readonly sweeper: ReturnType<typeof setInterval>;
  private readonly running: Promise<void>;
  private readonly readyPromise: Promise<void>;
  private resolveReady!: () => void;
  private caughtUp = false;
  private connected = false;
  private lastContactAt: number | undefined;
  private streamConnections = 0;
  private retryMs = 1000;
  /** An outage is logged once, when it starts, and once more when the feed answers again. */
  private outageLogged = false;

  constructor(options: RevocationOptions & { issuer: string; clock: () => number; fetch: typeof globalThis.fetch }) {
    if (typeof options.token !== 'string' || options.token.length === 0) {
      throw new TypeError('@latchkey/verify: revocations.token is required (Latchkey\'s REVOCATION_FEED_TOKEN)');
    }
    this.url = feedUrl(options.url ?? `${options.issuer.replace(/\/+$/, '')}/auth/revocations`);
    this.streamUrl = `${this.url.replace(/\/+$/, '')}/stream`;
    const policy = options.onFeedUnavailable ?? 'keep';
    if (policy === 'keep') this.refuseAfterMs = undefined;
    else if (typeof policy === 'object' && policy !== null && Number.isInteger(policy.refuseAfterSeconds) && policy.refuseAfterSeconds >= MIN_REFUSE_AFTER_SECONDS) {
      this.refuseAfterMs = policy.refuseAfterSeconds * 1000;
    } else {
      throw new TypeError(
        `@latchkey/verify: revocations.onFeedUnavailable must be 'keep' or { refuseAfterSeconds: <integer >= ${MIN_REFUSE_AFTER_SECONDS}> }`,
      );
    }
    this.refuseFrom = this.refuseAfterMs === undefined ? Infinity : -Infinity;
    const max = options.reconnectMaxMs ?? 30_000;
    if (!Number.isFinite(max) || max < 1) throw new TypeError('@latchkey/verify: revocations.reconnectMaxMs must be a number >= 1');
    this.reconnectMaxMs = max;
    this.token = options.token;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.clock = options.clock;
    this.log = options.log ?? ((message) => console.warn(`@latchkey/verify: ${message}`));
    this.readyPromise = new Promise((resolve) => (this.resolveReady = resolve));
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
    this.running = this.run();
  }

  /**
   * False if a token with these claims was revoked (its session, or its user before its `iat`),
   * or if the policy says to refuse everything now. The hot path: no allocation, no I/O.
   */
  admits(claims: AccessTokenClaims, now: number): boolean {
    if (now >= this.refuseFrom) return false;
    if (this.sessions.get(claims.sid) !== undefined) return false;
    const user = this.users.get(claims.sub);
    return user === undefined || claims.iat >= user.before;
  }

  /** Why `admits` said no: 'revoked' (a 401) or 'unavailable' (the policy's 503). */
  refusal(claims: AccessTokenClaims, now: number): 'revoked' | 'unavailable' | null {
    if (this.sessions.get(claims.sid) !== undefined) return 'revoked';
    const user = this.users.get(claims.sub);
    if (user !== undefined && claims.iat < user.before) return 'revoked';
    return now >= this.refuseFrom ? 'unavailable' : null;
  }

  /** Resolves once the backlog has been read after start (or the follower was closed). Never rejects. */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  get stats(): RevocationStats {
    return {
      revokedSessions: this.sessions.size,
      revokedUsers: this.users.size,
      connected: this.connected,
      lastContactAt: this.lastContactAt,
      streamConnections: this.streamConnections,
    };
  }

  /** Stops following: closes the stream, cancels timers. The verifier keeps what it knows. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.stopping.abort();
    this.resolveReady();
    await this.running;
  }

  /** Applies one entry (exported for tests and for feeding entries from elsewhere). */
  apply(entry: RevocationEntry): void {
    this.version++;
    if (entry.type === 'session') {
      const known = this.sessions.get(entry.sid);
      if (known === undefined || entry.exp > known) this.sessions.set(entry.sid, entry.exp);
    } else {
      const known = this.users.get(entry.sub);
      if (known === undefined) this.users.set(entry.sub, { before: entry.before, exp: entry.exp });
      else {
        // A later revocation voids more tokens and lives longer; an earlier one re-sent changes nothing.
        if (entry.before > known.before) known.before = entry.before;
        if (entry.exp > known.exp) known.exp = entry.exp;
      }
    }
  }

  /** Drops every entry whose `exp` has passed: no token it affects can be alive any more. */
  sweep(nowSeconds = Math.floor(this.clock() / 1000)): void {
    for (const [sid, exp] of this.sessions) if (exp < nowSeconds) this.sessions.delete(sid);
    for (const [sub, user] of this.users) if (user.exp < nowSeconds) this.users.delete(sub);
  }

  private contact(): void {
    const now = this.clock();
    this.lastContactAt = now;
    if (this.refuseAfterMs !== undefined && this.caughtUp) this.refuseFrom = now + this.refuseAfterMs;
    if (this.outageLogged) {
      this.outageLogged = false;
      this.log(`revocation feed ${this.url} reachable again`);
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      try {
        if (!this.caughtUp) await this.pageToEnd();
        await this.follow();
        failures = 0;
        // The stream ended cleanly (a deploy, a proxy timeout): come back after the server's `retry`.
        await this.sleep(this.retryMs);
      } catch (err) {
        this.connected = false;
        if (this.stopping.signal.aborted) break;
        failures++;
        if (!this.outageLogged) {
          this.outageLogged = true;
          const policy = this.refuseAfterMs === undefined ? 'verifying with the revocations already known' : `refusing every token ${this.refuseAfterMs / 1000} s after the last contact`;
          this.log(`revocation feed unavailable (${(err as Error).message}); ${policy}; retrying`);
        }
        if (err instanceof FeedHttpError && err.status === 400) {
          // The cursor is not one the server knows (another Latchkey behind the same URL?): start over.
          this.cursor = undefined;
          this.caughtUp = false;
        }
        // Exponential backoff from 500 ms with jitter, so that services restarted together do not reconnect in step.
        const base = Math.min(this.reconnectMaxMs, 500 * 2 ** Math.min(failures - 1, 16));
        await this.sleep(base / 2 + Math.random() * (base / 2));
      }
    }
    this.connected = false;
  }

  private headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept };
    return headers;
  }

  private async pageToEnd(): Promise<void> {
    for (;;) {
      const url = new URL(this.url);
      url.searchParams.set('limit', String(PAGE_LIMIT));
      if (this.cursor !== undefined) url.searchParams.set('after', this.cursor);
      const res = await this.fetch(url, {
        headers: this.headers('application/json'),
        signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
        redirect: 'error',
      });
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new FeedHttpError(res.status, this.url);
      }
      const page = (await res.json()) as { entries?: unknown; next?: unknown; has_more?: unknown };
      if (!Array.isArray(page.entries)) throw new Error(`${this.url} answered a page without entries`);
      for (const raw of page.entries) {
        const entry = toEntry(raw);
        if (entry !== undefined) this.apply(entry);
      }
      if (typeof page.next === 'string' && page.next.length > 0) this.cursor = page.next;
      if (page.has_more !== true) break;
      if (page.entries.length === 0) throw new Error(`${this.url} said has_more with an empty page`);
    }
    this.caughtUp = true;
    this.contact();
    this.resolveReady();
  }

  /** Follows the stream until it ends (resolves) or fails (rejects). */
  private async follow(): Promise<void> {
    const connection = new AbortController();
    const signal = AbortSignal.any([this.stopping.signal, connection.signal]);
    const headers = this.headers('text/event-stream');
    if (this.cursor !== undefined) headers['last-event-id'] = this.cursor;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const armIdle = () => {
      if (idle !== undefined) clearTimeout(idle);
      idle = setTimeout(() => connection.abort(new Error(`no heartbeat from ${this.streamUrl} for ${STREAM_IDLE_TIMEOUT_MS / 1000} s`)), STREAM_IDLE_TIMEOUT_MS);
      idle.unref();
    };
    armIdle();
    try {
      const res = await this.fetch(this.streamUrl, { headers, signal, redirect: 'error' });
      if (res.status !== 200 || res.body === null) {
        await res.body?.cancel();
        throw new FeedHttpError(res.status, this.streamUrl);
      }
      if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        await res.body.cancel();
        throw new Error(`${this.streamUrl} did not answer text/event-stream`);
      }
      this.connected = true;
      this.streamConnections++;
      this.contact();
      const parser = new SseParser({
        message: (message) => {
          if (message.event !== 'revocation') return;
          let raw: unknown;
          try {
            raw = JSON.parse(message.data);
          } catch {
            return;
          }
          const entry = toEntry(raw);
          if (entry !== undefined) this.apply(entry);
        },
        retry: (ms) => {
          this.retryMs = Math.min(Math.max(ms, 100), this.reconnectMaxMs);
        },
      });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          armIdle();
          this.contact();
          parser.push(value);
          // Only complete events move it (see SseParser): a cut-off entry is asked for again.
          if (parser.lastEventId !== '') this.cursor = parser.lastEventId;
        }
      } catch {
        // An open stream cut (a deploy, a proxy, a slow-reader disconnect, no heartbeat): not an
        // outage yet; the caller reconnects after `retry`, and only a failed reconnection is one.
      }
    } finally {
      this.connected = false;
      if (idle !== undefined) clearTimeout(idle);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopping.signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.stopping.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.stopping.signal.addEventListener('abort', done);
    });
  }
}

function feedUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError('@latchkey/verify: revocations.url must be an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('@latchkey/verify: revocations.url must be an absolute http(s) URL');
  return url.href;
}
