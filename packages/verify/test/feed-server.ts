import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An entry as the feed serves it, without its cursor (the server numbers them). */
export type FeedEntry = { type: 'session'; sid: string; exp: number } | { type: 'user'; sub: string; before: number; exp: number };

/**
 * A small revocation feed on 127.0.0.1 that speaks the contract of Latchkey's (GET
 * /auth/revocations paging, /auth/revocations/stream as SSE with Last-Event-ID resume), for the
 * follower's unit tests; the integration tests run against the real server. Cursors are entry
 * numbers as strings.
 */
export interface FeedServer {
  /** The feed URL (…/auth/revocations). */
  url: string;
  readonly token: string;
  entries: FeedEntry[];
  /** Last-Event-ID (or ?after) of each stream connection, in order ('' when absent). */
  streamResumes: string[];
  /** `after` of each page request ('' when absent). */
  pageAfters: string[];
  /** Answer every request with this status while set. */
  failWith: number | undefined;
  /** Called for each request answered with `failWith`. */
  onFailure: (() => void) | undefined;
  /** Page size the server uses whatever the client asks (to force several pages). */
  pageSize: number;
  /** Appends an entry and sends it to every open stream. */
  publish(entry: FeedEntry): string;
  /** Appends an entry without sending it to the open streams (a connection that missed it). */
  appendSilently(entry: FeedEntry): string;
  /** Sends an event's first lines but not its blank line, then cuts every stream. */
  cutStreamsMidEvent(entry: FeedEntry): void;
  /** Closes every open stream. */
  dropStreams(): void;
  /** Sends a comment line (a heartbeat) to every open stream. */
  heartbeat(): void;
  openStreams(): number;
  close(): Promise<void>;
}

export async function startFeedServer(token = 'feed-token-0123456789-0123456789-abcd'): Promise<FeedServer> {
  const streams = new Set<ServerResponse>();
  const state = {
    token,
    entries: [] as FeedEntry[],
    streamResumes: [] as string[],
    pageAfters: [] as string[],
    failWith: undefined as number | undefined,
    onFailure: undefined as (() => void) | undefined,
    pageSize: 500,
  };
  const event = (index: number) => `id: ${index + 1}\nevent: revocation\ndata: ${JSON.stringify({ ...state.entries[index], cursor: String(index + 1) })}\n\n`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://feed');
    if (req.headers.authorization !== `Bearer ${state.token}`) {
      res.writeHead(401, { 'content-type': 'application/problem+json', 'www-authenticate': 'Bearer' }).end('{"code":"REVOCATION_FEED_UNAUTHORIZED"}');
      return;
    }
    if (state.failWith !== undefined) {
      state.onFailure?.();
      res.writeHead(state.failWith).end();
      return;
    }
    if (url.pathname === '/auth/revocations') {
      const after = url.searchParams.get('after') ?? '';
      state.pageAfters.push(after);
      const from = after === '' ? 0 : Number(after);
      const limit = Math.min(Number(url.searchParams.get('limit') ?? 500), state.pageSize);
      const slice = state.entries.slice(from, from + limit).map((e, i) => ({ ...e, cursor: String(from + i + 1) }));
      const next = String(from + slice.length);
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ entries: slice, next, has_more: from + slice.length < state.entries.length, window_seconds: 960 }));
      return;
    }
    if (url.pathname === '/auth/revocations/stream') {
      const resume = (req.headers['last-event-id'] as string | undefined) ?? url.searchParams.get('after') ?? '';
      state.streamResumes.push(resume);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.write('retry: 100\n\n');
      for (let i = resume === '' ? 0 : Number(resume); i < state.entries.length; i++) res.write(event(i));
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const append = (entry: FeedEntry) => state.entries.push(entry) - 1;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/auth/revocations`,
    publish(entry: FeedEntry) {
      const i = append(entry);
      for (const s of streams) s.write(event(i));
      return String(i + 1);
    },
    appendSilently(entry: FeedEntry) {
      return String(append(entry) + 1);
    },
    cutStreamsMidEvent(entry: FeedEntry) {
      const i = append(entry);
      const text = event(i);
      for (const s of streams) {
        s.write(text.slice(0, text.length - 2));
        s.destroy();
      }
    },
    dropStreams() {
      for (const s of streams) s.destroy();
    },
    heartbeat() {
      for (const s of streams) s.write(': heartbeat\n\n');
    },
    openStreams: () => streams.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as FeedServer;
}

/** Polls `check` until it holds or `timeoutMs` passes (then throws with `what`). Never a timing assertion: only a bound on the wait. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`still not true after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
