/**
 * The HTTP edge over a real socket: what Node's parser and Fastify's router refuse is answered
 * with problem+json, and an oversized body gets its 413 while the client is still sending it,
 * on a connection that is then closed, not reset under the client.
 */
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/helpers.js';

let t: TestApp;
let port: number;

beforeAll(async () => {
  t = await createTestApp();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  port = (t.app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await t.close();
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses one HTTP/1.1 answer with a Content-Length; null until all of it has arrived. */
function parseAnswer(raw: Buffer): RawAnswer | null {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length']);
  const body = raw.subarray(end + 4);
  if (!Number.isInteger(length) || body.length < length) return null;
  return { status: Number(statusLine!.split(' ')[1]), headers, body: body.subarray(0, length).toString('utf8') };
}

/** Sends raw bytes and collects everything until the server closes (or the client gives up). */
function rawExchange(request: string, halfClose = false): Promise<{ answer: RawAnswer | null; error: string | null }> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let error: string | null = null;
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', () => resolve({ answer: parseAnswer(Buffer.concat(chunks)), error }));
    socket.write(request);
    // The end of the stream: the request as sent is all there is.
    if (halfClose) socket.end();
    // A request the server answers but keeps the connection of: stop after its answer.
    socket.on('data', () => {
      if (parseAnswer(Buffer.concat(chunks))) socket.end();
    });
  });
}

function expectProblemAnswer(answer: RawAnswer | null, status: number, code: string): void {
  expect(answer, 'no complete answer').not.toBeNull();
  expect(answer!.status, answer!.body).toBe(status);
  expect(answer!.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(JSON.parse(answer!.body)).toMatchObject({ status, code });
}

describe("what Node's parser and Fastify's router refuse, over a real socket", () => {
  it('answers problem+json with a stable code', async () => {
    const cases: Array<[string, string, number, string, boolean?]> = [
      ['a Content-Length that is no number', 'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400, 'INVALID_REQUEST'],
      ['two different Content-Lengths', 'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}', 400, 'INVALID_REQUEST'],
      ['Content-Length with Transfer-Encoding', 'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}', 400, 'INVALID_REQUEST'],
      ['a header block too large', `GET /auth/me HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
      ['a badly percent-encoded path', 'DELETE /auth/sessions/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'INVALID_REQUEST'],
      ['a path parameter past its length limit', `DELETE /auth/sessions/${'a'.repeat(300)} HTTP/1.1\r\nHost: x\r\n\r\n`, 400, 'INVALID_REQUEST'],
      [
        'an unsupported media type in upper case',
        'POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: Application/Octet-Stream\r\nContent-Length: 1\r\n\r\nx',
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'a Content-Length longer than the body sent, then the end of the stream',
        'POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{',
        400,
        'INVALID_REQUEST',
        true,
      ],
    ];
    for (const [what, request, status, code, halfClose] of cases) {
      const { answer } = await rawExchange(request, halfClose);
      try {
        expectProblemAnswer(answer, status, code);
      } catch (err) {
        throw new Error(`${what}: ${(err as Error).message}`);
      }
    }
  });
});

/**
 * A client that streams a body far past BODY_LIMIT slowly, as an upload does, and keeps sending
 * for a while after the answer (a client busy writing does not watch for an early answer).
 */
function slowOversizedUpload(head: string, frame: (chunk: Buffer) => Buffer, chunksAfterAnswer = 10) {
  return new Promise<{ answer: RawAnswer | null; error: string | null; serverEnded: boolean; sentAfterAnswer: number }>((resolve) => {
    // allowHalfOpen: the client goes on sending after the server's FIN, as a real upload does.
    const socket: Socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let answer: RawAnswer | null = null;
    let error: string | null = null;
    let serverEnded = false;
    let sentAfterAnswer = 0;
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      answer ??= parseAnswer(Buffer.concat(chunks));
    });
    socket.on('end', () => (serverEnded = true));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.write(head);
    const pump = setInterval(() => {
      if (socket.destroyed || socket.writableEnded) return;
      if (answer && ++sentAfterAnswer > chunksAfterAnswer) {
        socket.end();
        return;
      }
      socket.write(frame(chunk));
    }, 10);
    socket.on('close', () => {
      clearInterval(pump);
      resolve({ answer, error, serverEnded, sentAfterAnswer });
    });
  });
}

describe('an oversized body', () => {
  it('announced by Content-Length: the 413 arrives while the client still sends, and the connection is closed, not reset', async () => {
    const head = 'POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n';
    const result = await slowOversizedUpload(head, (c) => c);
    expectProblemAnswer(result.answer, 413, 'PAYLOAD_TOO_LARGE');
    expect(result.answer!.headers.connection).toBe('close');
    // The client went on sending after the answer and was not reset (no EPIPE / ECONNRESET):
    // the server kept reading and closed with a FIN once the client had finished.
    expect(result.sentAfterAnswer).toBeGreaterThan(10);
    expect(result.error).toBeNull();
    expect(result.serverEnded).toBe(true);
  });

  it('sent chunked: the 413 comes once BODY_LIMIT is passed, and the connection is closed, not reset', async () => {
    const head = 'POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const result = await slowOversizedUpload(head, (c) => Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]));
    expectProblemAnswer(result.answer, 413, 'PAYLOAD_TOO_LARGE');
    expect(result.sentAfterAnswer).toBeGreaterThan(10);
    expect(result.error).toBeNull();
    expect(result.serverEnded).toBe(true);
  });

  it('the server stops reading a client that never stops sending (the linger is bounded)', async () => {
    const head = 'POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500000000\r\n\r\n';
    // The client would send for 30 s after the answer; the server closes long before.
    const result = await slowOversizedUpload(head, (c) => c, 3000);
    expectProblemAnswer(result.answer, 413, 'PAYLOAD_TOO_LARGE');
    expect(result.sentAfterAnswer).toBeLessThan(3000);
    // The server then did close: the client saw its FIN, and a reset only for what it sent after that.
    expect(result.serverEnded).toBe(true);
  });

  it('the server still serves new connections afterwards', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/health/live`);
    expect(res.status).toBe(200);
  });
});
