import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { unwrap } from '../../http/failures.js';
import { requestMeta } from '../../http/request.js';
import { passwordProperty, problems, userEnvelopeSchema } from '../../http/schemas.js';
import { publicUser } from '../users/public-user.js';
import { acceptInvite } from './invite.js';

/** POST /auth/invite/accept (docs/admin.md): public, the mailed link's token is the proof. */
export async function inviteRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;

  app.post<{ Body: { token: string; password: string } }>(
    '/auth/invite/accept',
    {
      schema: {
        tags: ['email'],
        summary: 'Accept an invitation: choose a password with the token of the mailed link',
        description:
          'No access token needed. Sets the password of the invited account and marks its email verified; signs nothing in ' +
          '(log in next with the new password). The link works once, for INVITE_TTL; a password-reset link is refused here ' +
          '(400 TOKEN_INVALID), as an invitation link is at /auth/password/reset.',
        body: {
          type: 'object',
          required: ['token', 'password'],
          additionalProperties: false,
          properties: {
            token: { type: 'string', minLength: 1, maxLength: 512, description: 'The `token` parameter of the mailed link' },
            password: passwordProperty,
          },
        },
        response: { 200: userEnvelopeSchema, ...problems(400, 413, 415, 422, 429, 503) },
      },
    },
    async (request) => {
      const user = unwrap(await acceptInvite(ctx, request.body.token, request.body.password, requestMeta(request)));
      return { user: publicUser(user) };
    },
  );
}
