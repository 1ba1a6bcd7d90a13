import { timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { AppError } from '../../errors.js';
import { failureToError, refuse } from '../../http/failures.js';
import { bearerToken } from '../../http/request.js';
import { problems } from '../../http/schemas.js';
import { failure } from '../../outcome.js';
import { parseRevocationCursor } from '../../store/revocation-cursor.js';
import {
  DEFAULT_PAGE_SIZE,
  FEED_START,
  feedWindowMs,
  isAfter,
  MAX_PAGE_SIZE,
  revocationPage,
  RevocationHub,
  type FeedEntry,
  type FeedSubscriber,
} from './revocation-feed.js';

/** A comment line every 15 s: proxies and load balancers keep an idle stream open, and a dead peer is noticed. */
export const HEARTBEAT_INTERVAL_MS = 15_000;
/**
 * Bytes a stream may have waiting in its socket buffer once live (about 10,000 entries): a reader
 * that falls this far behind is disconnected and resumes by its cursor, instead of making this
 * process hold an unbounded backlog for it.
 */
export const STREAM_BUFFER_LIMIT_BYTES = 1024 * 1024;
/** Live entries a stream holds while it still sends its backlog; past it, it is disconnected (resumes by cursor). */
export const STREAM_PENDING_LIMIT = 10_000;

const entrySchema = {
  type: 'object',
  required: ['type', 'cursor', 'exp'],
  description:
    '`session`: every access token with this `sid` is void. `user`: every access token of this `sub` with `iat < before` is void. ' +
    '`exp`: after it no token the entry affects can be alive (revocation time + ACCESS_TOKEN_TTL + 60 s); drop the entry then.',
  properties: {
    type: { type: 'string', enum: ['session', 'user'] },
    sid: { type: 'string', description: 'type `session`: the session id (the `sid` claim)' },
    sub: { type: 'string', description: 'type `user`: the user id (the `sub` claim)' },
    before: { type: 'integer', description: 'type `user`: epoch seconds; tokens with `iat` before it are void' },
    cursor: { type: 'string', description: 'pass as `after` (or Last-Event-ID) to get the entries after this one' },
    exp: { type: 'integer', description: 'epoch seconds' },
  },
} as const;

const pageSchema = {
  type: 'object',
  required: ['entries', 'next', 'has_more', 'window_seconds'],
  properties: {
    entries: { type: 'array', items: entrySchema },
    next: { type: 'string', description: 'the cursor to pass as `after` for the next page (or to follow the stream from)' },
    has_more: { type: 'boolean' },
    window_seconds: { type: 'integer', description: 'how long an entry stays in the feed: ACCESS_TOKEN_TTL + 60 s' },
  },
} as const;

const cursorProperty = {
  type: 'string',
  maxLength: 64,
  description: 'a cursor from this feed (`next`, an entry\'s `cursor`); omitted: from the oldest live entry',
} as const;

/** The feed's credential, compared in constant time: it is a secret. */
function credentialMatches(sent: string | null, expected: Buffer): boolean {
  if (!sent) return false;
  const given = Buffer.from(sent);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function cursorFrom(raw: string | undefined): string {
  if (raw === undefined || raw === '') return FEED_START;
  if (!parseRevocationCursor(raw)) refuse(failure('INVALID_CURSOR', 'The cursor is not one this feed gave.'));
  return raw;
}

/** One SSE message of an entry: its cursor as the event id, so a reconnect resumes after it. */
function sseMessage(entry: FeedEntry): string {
  return `id: ${entry.cursor}\nevent: revocation\ndata: ${JSON.stringify(entry)}\n\n`;
}

/**
 * One open stream: the backlog after its cursor, then what the hub delivers, each entry once, in
 * feed order. Disconnected (it resumes by cursor) when the reader falls too far behind.
 */
class FeedStream implements FeedSubscriber {
  readonly #raw: ServerResponse;
  /** The cursor of the last entry written (or the one the stream resumed after). */
  #sent: string;
  /** Live entries that arrived while the backlog was still being read; null once it is done. */
  #pending: FeedEntry[] | null = [];
  #heartbeat: NodeJS.Timeout | null = null;
  #opened = false;
  #ended = false;
  readonly #onEnd: () => void;

  constructor(raw: ServerResponse, after: string, onEnd: () => void) {
    this.#raw = raw;
    this.#sent = after;
    this.#onEnd = onEnd;
    // The client left (or the socket failed): nothing more will be read from this socket.
    const gone = () => {
      this.#finish();
      this.#raw.destroy();
    };
    raw.on('close', gone);
    raw.on('error', gone);
  }

  get ended(): boolean {
    return this.#ended;
  }

  get after(): string {
    return this.#sent;
  }

  /** Headers, the reconnection delay and the heartbeat: the response is now a stream. */
  open(headers: Record<string, string | string[] | number>): void {
    this.#opened = true;
    this.#raw.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // nginx buffers proxied answers unless told not to; a buffered stream arrives late.
      'x-accel-buffering': 'no',
    });
    this.#raw.write('retry: 1000\n\n');
    this.#heartbeat = setInterval(() => this.#raw.write(': heartbeat\n\n'), HEARTBEAT_INTERVAL_MS);
    this.#heartbeat.unref();
  }

  /** Writes backlog entries; resolves when the socket can take more (backpressure, not a disconnect). */
  async writeBacklog(entries: readonly FeedEntry[]): Promise<void> {
    for (const e of entries) this.#write(e);
    if (this.#raw.writableNeedDrain && !this.#ended) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#raw.off('drain', done);
          this.#raw.off('close', done);
          resolve();
        };
        this.#raw.on('drain', done);
        this.#raw.on('close', done);
      });
    }
  }

  /** The backlog is sent: what the hub delivered meanwhile goes now, then everything live. */
  goLive(): void {
    const pending = this.#pending ?? [];
    this.#pending = null;
    this.#writeLive(pending);
  }

  deliver(entries: readonly FeedEntry[]): void {
    if (this.#ended) return;
    if (this.#pending) {
      this.#pending.push(...entries);
      if (this.#pending.length > STREAM_PENDING_LIMIT) this.close();
      return;
    }
    this.#writeLive(entries);
  }

  /** Ends the stream (before it opened: only stops it; the route then answers with a problem). */
  close(): void {
    if (this.#ended) return;
    if (this.#opened) this.#raw.end();
    this.#finish();
  }

  #writeLive(entries: readonly FeedEntry[]): void {
    for (const e of entries) this.#write(e);
    // A reader this far behind would make the process hold its backlog: let it resume by cursor.
    if (this.#raw.writableLength > STREAM_BUFFER_LIMIT_BYTES) this.#raw.destroy();
  }

  #write(entry: FeedEntry): void {
    if (this.#ended || !isAfter(entry.cursor, this.#sent)) return;
    this.#raw.write(sseMessage(entry));
    this.#sent = entry.cursor;
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#pending = null;
    this.#onEnd();
  }
}

/**
 * GET /auth/revocations and GET /auth/revocations/stream (docs/verify.md, "Revocation feed"),
 * for services that verify access tokens offline. Readable only with REVOCATION_FEED_TOKEN;
 * without it set, both answer 404 as if they did not exist.
 */
export async function revocationRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;
  const configured = ctx.config.sessions.revocationFeedToken;
  const credential = configured === null ? null : Buffer.from(configured);
  const windowMs = feedWindowMs(ctx.config.tokens);
  const windowSeconds = Math.ceil(windowMs / 1000);
  const hub = new RevocationHub({ store: ctx.store, clock: ctx.clock, windowMs, log: ctx.log });
  const maxStreams = ctx.config.sessions.revocationFeedMaxStreams;
  let streams = 0;

  // Open streams end when the app closes: server.close() waits for every connection to end.
  app.addHook('preClose', async () => hub.close());

  /** Before parsing anything: absent without the setting, 401 without the credential. */
  function feedGuard(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (!credential) return done(failureToError(failure('NOT_FOUND', 'No such route.')));
    if (!credentialMatches(bearerToken(request), credential)) {
      return done(failureToError(failure('REVOCATION_FEED_UNAUTHORIZED', 'Send Authorization: Bearer <REVOCATION_FEED_TOKEN>.')));
    }
    done();
  }

  const security = [{ BearerAuth: [] }];

  app.get<{ Querystring: { after?: string; limit?: string } }>(
    '/auth/revocations',
    {
      onRequest: feedGuard,
      schema: {
        tags: ['revocations'],
        summary: 'Revoked sessions and users, a page at a time (for services that verify tokens offline)',
        description:
          'Needs `Authorization: Bearer <REVOCATION_FEED_TOKEN>` (not an access token); 404 when REVOCATION_FEED_TOKEN is not set. ' +
          'Entries stay until no token they affect can be alive (`exp`). Page with `after=<next>` while `has_more`, ' +
          'then follow `/auth/revocations/stream` from the last `next`. See docs/verify.md, "Revocation feed".',
        security,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            after: cursorProperty,
            limit: { type: 'string', pattern: '^([1-9][0-9]{0,2}|1000)$', description: `1..${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}` },
          },
        },
        response: { 200: pageSchema, ...problems(400, 401, 404, 422, 503) },
      },
    },
    async (request) => {
      const after = cursorFrom(request.query.after);
      const limit = request.query.limit === undefined ? DEFAULT_PAGE_SIZE : Number(request.query.limit);
      const page = await revocationPage(ctx.store, ctx.clock(), windowMs, after, limit);
      return { entries: page.entries, next: page.next, has_more: page.hasMore, window_seconds: windowSeconds };
    },
  );

  app.get<{ Querystring: { after?: string } }>(
    '/auth/revocations/stream',
    {
      onRequest: feedGuard,
      schema: {
        tags: ['revocations'],
        summary: 'The revocation feed as Server-Sent Events, resumable',
        description:
          'Needs `Authorization: Bearer <REVOCATION_FEED_TOKEN>`. Sends the entries after the cursor (`Last-Event-ID`, else `after`, ' +
          'else from the oldest live entry), then each new one as it is written through any instance, within about a second. ' +
          'Each message: `id: <cursor>`, `event: revocation`, `data: <entry JSON>` (the entry of GET /auth/revocations); ' +
          'a comment every 15 s; `retry: 1000`. A reader that falls far behind is disconnected and resumes by its cursor. ' +
          `At most REVOCATION_FEED_MAX_STREAMS streams per instance (503 beyond).`,
        security,
        headers: {
          type: 'object',
          properties: { 'last-event-id': { ...cursorProperty, description: 'the cursor of the last entry received (sent by EventSource on reconnect)' } },
        },
        querystring: { type: 'object', additionalProperties: false, properties: { after: cursorProperty } },
        response: {
          200: { description: 'text/event-stream of revocation entries', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...problems(400, 401, 404, 503),
        },
      },
    },
    async (request, reply) => {
      const lastEventId = request.headers['last-event-id'];
      const after = cursorFrom(typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : request.query.after);
      if (streams >= maxStreams) {
        throw new AppError('OVERLOADED', { detail: 'Too many open revocation streams; try again later.', headers: { 'retry-after': '5' } });
      }
      streams++;
      const stream = new FeedStream(reply.raw, after, () => {
        streams--;
        hub.unsubscribe(stream);
      });
      let first;
      try {
        await hub.subscribe(stream);
        // The first page before the answer starts: a database that does not answer is a 503, not an empty stream.
        first = await revocationPage(ctx.store, ctx.clock(), windowMs, after, MAX_PAGE_SIZE);
      } catch (err) {
        stream.close();
        throw err;
      }
      // Closed meanwhile: the app is closing (or the client left, and nobody reads this answer).
      if (stream.ended) refuse(failure('SERVICE_UNAVAILABLE', 'The server is shutting down.'));
      reply.hijack();
      stream.open(reply.getHeaders() as Record<string, string | string[] | number>);
      void sendBacklog(stream, first).catch((err: unknown) => {
        request.log.warn({ err: { message: (err as Error).message } }, 'revocation stream ended: cannot read the backlog');
        stream.close();
      });
      return reply;
    },
  );

  async function sendBacklog(stream: FeedStream, first: Awaited<ReturnType<typeof revocationPage>>): Promise<void> {
    let page = first;
    for (;;) {
      await stream.writeBacklog(page.entries);
      if (stream.ended) return;
      if (!page.hasMore) break;
      page = await revocationPage(ctx.store, ctx.clock(), windowMs, stream.after, MAX_PAGE_SIZE);
    }
    stream.goLive();
  }
}
