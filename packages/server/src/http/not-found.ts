import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { sendProblem } from './error-handler.js';

/**
 * Paths only: a query string could carry something secret and is never logged or echoed.
 *
 * @example
 * pathOf('/auth/me?token=x') // '/auth/me'
 */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * The standalone server's answer to an unknown route: problem+json 404 NOT_FOUND naming the
 * method and path (never the query string).
 *
 * @example
 * app.setNotFoundHandler(notFoundHandler);
 */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  sendProblem(reply, new AppError('NOT_FOUND', { detail: `No route ${request.method} ${pathOf(request.url)}.` }));
}
