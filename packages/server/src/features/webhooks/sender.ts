/**
 * One delivery attempt over HTTP: a POST with node's http/https, no redirect followed (a 3xx is
 * a failure), at most WEBHOOK_TIMEOUT from the first byte out to the last byte in, at most
 * RESPONSE_BYTES of the response read (and never stored or logged), and, without
 * WEBHOOK_ALLOW_PRIVATE, only to checked public addresses (address-guard.ts).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { hostOf, isPublicAddress, pinnedLookup } from './address-guard.js';

/** Bytes of a response read at most; the rest is dropped with the connection. */
export const RESPONSE_BYTES = 4096;

export interface SendResult {
  ok: boolean;
  statusCode: number | null;
  /** A short reason for a failure, for the delivery log; never the response body. */
  error: string | null;
  latencyMs: number;
}

export interface SendOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  allowPrivate: boolean;
}

/** What went wrong, in a few words, from a socket or DNS error. */
function describeError(err: NodeJS.ErrnoException): string {
  if (err.code === 'EADDRNOTALLOWED') return `address not allowed: ${err.message}`;
  if (err.code) return `${err.code}: ${err.message}`.slice(0, 300);
  return err.message.slice(0, 300);
}

/**
 * Sends one attempt; resolves with its outcome, never rejects.
 *
 * @example
 * const r = await sendWebhook({ url, headers, body, timeoutMs: 10_000, allowPrivate: false });
 * if (!r.ok) console.log(r.error);
 */
export function sendWebhook(options: SendOptions): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: Omit<SendResult, 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...result, latencyMs: elapsed() });
    };
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      finish({ ok: false, statusCode: null, error: 'invalid URL' });
      return;
    }
    const host = hostOf(url);
    // A literal address is connected to without a lookup: checked here instead.
    if (!options.allowPrivate && isIP(host) && !isPublicAddress(host)) {
      finish({ ok: false, statusCode: null, error: `address not allowed: ${host}` });
      return;
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, {
      method: 'POST',
      // A content-length, not chunked encoding: receivers that read a fixed-size raw body for the
      // signature check (and some proxies) expect one.
      headers: {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(options.body)),
        'user-agent': 'Latchkey-Webhooks/1',
        ...options.headers,
      },
      agent: false,
      ...(options.allowPrivate ? {} : { lookup: pinnedLookup }),
    });
    const timer = setTimeout(() => {
      finish({ ok: false, statusCode: null, error: `timed out after ${options.timeoutMs} ms` });
      req.destroy();
    }, options.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, statusCode: null, error: describeError(err) }));
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      const done = () => {
        if (status >= 200 && status < 300) finish({ ok: true, statusCode: status, error: null });
        else if (status >= 300 && status < 400) finish({ ok: false, statusCode: status, error: `HTTP ${status}: redirect not followed` });
        else finish({ ok: false, statusCode: status, error: `HTTP ${status}` });
      };
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > RESPONSE_BYTES) {
          done();
          res.destroy();
        }
      });
      res.on('end', done);
      res.on('error', done);
      res.on('close', done);
    });
    req.end(options.body);
  });
}
