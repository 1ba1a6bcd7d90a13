import type { FastifyInstance } from 'fastify';

/**
 * Browser code often posts `Content-Type: application/json` with no body to refresh or log out
 * with the cookie. In the scope this is called on, an empty JSON body counts as no body, not as
 * a 400; anything else goes to Fastify's own (prototype-poisoning-safe) parser.
 *
 * @example
 * export async function sessionRoutes(app: FastifyInstance) {
 *   acceptEmptyJsonBody(app);
 *   app.post('/auth/refresh', ...);
 * }
 */
export function acceptEmptyJsonBody(app: FastifyInstance): void {
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') done(null, undefined);
    else jsonParser(request, text, done);
  });
}
