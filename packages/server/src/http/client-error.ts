import type { Duplex } from 'node:stream';
import { AppError, toProblem } from '../errors.js';

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses before a request exists (a
 * header block over HEADER_LIMIT, a bad or doubled Content-Length, Content-Length with
 * Transfer-Encoding, garbage on the socket) is answered with problem+json like everything else,
 * then the socket is closed. buildApp passes it; a host app mounting Latchkey can pass it to
 * `Fastify({ clientErrorHandler })` for the same answers.
 *
 * @example
 * const app = Fastify({ clientErrorHandler: latchkeyClientErrorHandler, frameworkErrors: latchkeyFrameworkErrors });
 */
export function latchkeyClientErrorHandler(
  this: { log: { trace: (o: object, m: string) => void } },
  err: NodeJS.ErrnoException,
  socket: Duplex,
): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const problem = tooLarge
    ? new AppError('HEADERS_TOO_LARGE', { detail: 'The request headers are too large.' })
    : new AppError('INVALID_REQUEST', { detail: 'The request could not be parsed.' });
  const body = JSON.stringify(toProblem(problem));
  this.log.trace({ code: err.code }, 'client error');
  if (socket.writable) {
    const reason = tooLarge ? 'Request Header Fields Too Large' : 'Bad Request';
    socket.write(
      `HTTP/1.1 ${problem.status} ${reason}\r\nContent-Type: application/problem+json\r\nX-Content-Type-Options: nosniff\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
