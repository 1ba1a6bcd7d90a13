import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { unwrap } from '../../http/failures.js';
import { requestMeta } from '../../http/request.js';
import { emailProperty, problems, tokenResponseSchema } from '../../http/schemas.js';
import { invalid, success, type Outcome } from '../../outcome.js';
import { mfaEnrollmentSchema } from '../factors/enrollment-routes.js';
import { mfaChallengeSchema } from '../factors/routes.js';
import { refreshCookiePath, sendTokens, wantsCookieMode } from '../sessions/transport.js';
import { requestEmailSignIn, verifyEmailSignIn, type EmailSignInProof } from './sign-in.js';

interface VerifyBody {
  token?: string;
  email?: string;
  code?: string;
}

/** Sent back on every request, whatever the address: nothing to tell apart. */
const acceptedSchema = { type: 'object', additionalProperties: false, properties: {}, description: 'Accepted: a mail is on its way if the address may sign in' } as const;

/** Reads which of the two proofs the body holds; exactly one must be there. */
function proofOf(body: VerifyBody): Outcome<EmailSignInProof> {
  const { token, email, code } = body;
  if (token !== undefined) {
    if (email !== undefined || code !== undefined) {
      return invalid({ field: 'token', message: 'Send either token, or email and code, not both.' });
    }
    return success({ token });
  }
  if (email === undefined || code === undefined) {
    return invalid(
      ...(email === undefined ? [{ field: 'email', message: 'Email is required with a code (or send the link\'s token).' }] : []),
      ...(code === undefined ? [{ field: 'code', message: 'Code is required with an email (or send the link\'s token).' }] : []),
    );
  }
  return success({ email, code });
}

/**
 * Email sign-in (docs/email.md, "Email sign-in"): no access token needed. Registered only while
 * EMAIL_SIGN_IN is on.
 */
export async function emailSignInRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext; mountPrefix: string }): Promise<void> {
  const { ctx } = opts;
  if (!ctx.config.mail.emailSignIn) return;
  const refreshPath = refreshCookiePath(opts.mountPrefix);

  app.post<{ Body: { email: string; redirect_to?: string } }>(
    '/auth/email/sign-in',
    {
      schema: {
        tags: ['email'],
        summary: 'Mail a sign-in link and code',
        description:
          'Always 202 `{}`, whether or not an account has this address (or is disabled), answered before the account is looked up. ' +
          'An active account gets a mail with a link (APP_URL/email-sign-in?token=…, plus `redirect_to` when given) and a 6-digit ' +
          'code, valid EMAIL_SIGN_IN_TTL; either signs in once with POST /auth/email/sign-in/verify. A new request replaces the ' +
          'previous mail\'s link and code. An unknown address gets a mail only with EMAIL_SIGN_IN_CREATES_USERS=true (the account ' +
          'is made when it signs in). At most 3 mails per address per 15 minutes: past that the answer is the same and no mail goes. ' +
          '`redirect_to` must be allowed by REDIRECT_ALLOWED_URLS (400 REDIRECT_NOT_ALLOWED).',
        body: {
          type: 'object',
          required: ['email'],
          additionalProperties: false,
          properties: {
            email: emailProperty,
            redirect_to: { type: 'string', minLength: 1, maxLength: 2048, description: 'Where the app goes after signing in; added to the link' },
          },
        },
        response: { 202: acceptedSchema, ...problems(400, 413, 415, 422, 429, 503) },
      },
      // Trimmed before the format check, as at register and login.
      preValidation: async (request: FastifyRequest) => {
        const body = request.body as { email?: unknown } | null;
        if (body && typeof body === 'object' && typeof body.email === 'string') body.email = body.email.trim();
      },
    },
    async (request, reply) => {
      unwrap(await requestEmailSignIn(ctx, request.body.email, request.body.redirect_to ?? null, requestMeta(request)));
      return reply.code(202).send({});
    },
  );

  app.post<{ Body: VerifyBody }>(
    '/auth/email/sign-in/verify',
    {
      schema: {
        tags: ['email'],
        summary: 'Sign in with the mailed link\'s token, or the address and the code',
        description:
          'Send `{token}` (the link\'s `token` parameter) or `{email, code}`. Answers as POST /auth/login does: a TokenResponse ' +
          '(`X-Auth-Mode: cookie` for cookie mode), or `mfa_required` / `mfa_enrollment_required` when the account needs a second ' +
          'factor. The link and the code work once, together: using one spends both. A wrong, expired or used link or code is ' +
          '400 `INVALID_SIGN_IN_CODE`, the same for every address; the fifth wrong code ends the mail\'s link and code. The session\'s ' +
          '`amr` is `["email"]`, and the address counts as verified from now on.',
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            token: { type: 'string', minLength: 1, maxLength: 512, description: 'The `token` parameter of the mailed link' },
            email: { type: 'string', minLength: 1, maxLength: 254 },
            code: { type: 'string', minLength: 1, maxLength: 32, description: 'The 6-digit code of the mail (spaces and dashes ignored)' },
          },
        },
        response: {
          200: { type: 'object', description: 'Tokens, or a second factor is required', anyOf: [tokenResponseSchema, mfaChallengeSchema, mfaEnrollmentSchema] },
          ...problems(400, 403, 413, 415, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const proof = unwrap(proofOf(request.body ?? {}));
      const result = unwrap(await verifyEmailSignIn(ctx, proof, requestMeta(request)));
      // A second factor (or, under MFA_REQUIRED_ROLES, its enrolment) is due: as POST /auth/login answers.
      if (result.kind !== 'signed_in') return reply.header('pragma', 'no-cache').code(200).send(result.challenge);
      return sendTokens(ctx, refreshPath, request, reply, result.tokens, wantsCookieMode(request));
    },
  );
}
