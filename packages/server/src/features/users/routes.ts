import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { unwrap } from '../../http/failures.js';
import { bearerSecurity, localeProperty, nameProperty, problems, userEnvelopeSchema } from '../../http/schemas.js';
import { publicUser } from './public-user.js';
import { updateProfile } from './service.js';

/**
 * GET and PATCH /auth/me. Registered in the signed-in scope: its preHandler has authenticated
 * the caller and set `request.auth` before these handlers run.
 */
export async function profileRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;

  app.get(
    '/auth/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'The current user',
        security: bearerSecurity,
        response: { 200: userEnvelopeSchema, ...problems(401) },
      },
    },
    // Not async: the answer is ready, and a returned object is sent without a promise (the
    // hottest route of the server).
    (request) => ({ user: publicUser(request.auth!.user) }),
  );

  app.patch<{ Body: { name?: string | null; locale?: string | null } }>(
    '/auth/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'Update the current user’s profile',
        security: bearerSecurity,
        body: { type: 'object', additionalProperties: false, properties: { name: nameProperty, locale: localeProperty } },
        response: { 200: userEnvelopeSchema, ...problems(401, 422) },
      },
    },
    async (request) => {
      const user = unwrap(await updateProfile(ctx, request.auth!.user.id, request.body));
      return { user: publicUser(user) };
    },
  );
}
