import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The interaction forms' CSRF tokens. Each browser holds a random secret in an HttpOnly cookie
 * scoped to the interaction routes; a form's token is an HMAC over the interaction's uid and that
 * secret, keyed by a key derived from KEY_ENCRYPTION_KEY (or, without one, by the secret itself).
 * A token is good for one interaction in one browser only, needs no server-side state, and works
 * across processes (`serve --workers`), which a random per-process key would not.
 */
export const INTERACTION_CSRF_COOKIE = 'lk_oauth_csrf';

const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;
const KEY_INFO = 'latchkey oauth interaction csrf';
/** The cookie outlives an interaction (oidc-provider's default is 1 hour) comfortably. */
const COOKIE_MAX_AGE_SECONDS = 86_400;

export interface InteractionCsrfOptions {
  readonly keyEncryptionKey: Uint8Array | null;
  /** `<mount prefix>/oauth/interaction`: the cookie goes to the interaction routes only. */
  readonly cookiePath: string;
  readonly cookieSecure: boolean;
}

export class InteractionCsrf {
  readonly #key: Buffer | null;

  constructor(private readonly options: InteractionCsrfOptions) {
    this.#key = options.keyEncryptionKey ? Buffer.from(hkdfSync('sha256', options.keyEncryptionKey, new Uint8Array(0), KEY_INFO, 32)) : null;
  }

  #token(secret: string, uid: string): string {
    return createHmac('sha256', this.#key ?? secret)
      .update(uid)
      .update('\0')
      .update(secret)
      .digest('base64url');
  }

  /** The token for a page's forms; sets the browser's secret first when it has none. */
  issue(request: FastifyRequest, reply: FastifyReply, uid: string): string {
    let secret = request.cookies[INTERACTION_CSRF_COOKIE];
    if (!secret || !SECRET_SHAPE.test(secret)) {
      secret = randomBytes(32).toString('base64url');
      // SameSite=Lax: the first page is reached by a cross-site redirect from the app, a top-level GET.
      void reply.setCookie(INTERACTION_CSRF_COOKIE, secret, {
        path: this.options.cookiePath,
        httpOnly: true,
        secure: this.options.cookieSecure,
        sameSite: 'lax',
        maxAge: COOKIE_MAX_AGE_SECONDS,
      });
    }
    return this.#token(secret, uid);
  }

  /** Whether a posted form's token is this browser's for this interaction (constant-time). */
  check(request: FastifyRequest, uid: string, token: unknown): boolean {
    const secret = request.cookies[INTERACTION_CSRF_COOKIE];
    if (!secret || !SECRET_SHAPE.test(secret) || typeof token !== 'string') return false;
    const expected = Buffer.from(this.#token(secret, uid));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
