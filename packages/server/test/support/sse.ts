/**
 * A reader of the revocation feed's Server-Sent Events over real HTTP, for tests: it collects
 * every message as it arrives and can wait, with a deadline, for one to appear. node:http with a
 * socket of its own (no agent): fetch's pool was seen to open a spare connection after an abort,
 * which the server then waits for at app.close() until its header timeout.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface SseMessage {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

export interface SseReader {
  status: number;
  headers: IncomingHttpHeaders;
  /** Everything received, raw (comments and `retry:` lines included). */
  readonly raw: string;
  readonly messages: SseMessage[];
  /** Resolves once the server has ended the stream. */
  readonly ended: Promise<void>;
  /** Waits (at most `timeoutMs`) until `check` finds what it wants in the messages. */
  waitFor<T>(what: string, check: (messages: SseMessage[]) => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  close(): void;
}

/** Opens `url` with these headers; resolves once the answer's headers arrived. */
export function openSse(url: string, headers: Record<string, string>): Promise<SseReader> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
      let raw = '';
      let buffer = '';
      const messages: SseMessage[] = [];
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        raw += text;
        buffer += text;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const m: SseMessage = { id: undefined, event: undefined, data: '' };
          let isMessage = false;
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) m.id = line.slice(4);
            else if (line.startsWith('event: ')) m.event = line.slice(7);
            else if (line.startsWith('data: ')) {
              m.data += line.slice(6);
              isMessage = true;
            }
          }
          if (isMessage) messages.push(m);
        }
      });
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
        res.on('error', () => done());
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        get raw() {
          return raw;
        },
        messages,
        ended,
        async waitFor(what, check, timeoutMs = 10_000) {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const value = check(messages);
            if (value) return value;
            if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(messages)}`);
            await new Promise((r) => setTimeout(r, 20));
          }
        },
        close() {
          req.destroy();
        },
      });
    });
    req.on('error', reject);
    req.end();
  });
}
