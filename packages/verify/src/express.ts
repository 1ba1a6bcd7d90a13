import { authenticationShortfall, checkRequirement, type AuthenticationRequirement } from './authentication.js';
import type { AccessTokenClaims } from './claims.js';
import { bearerToken, buildRefusals, hasRoles, refusalFor, type Refusal } from './http.js';
import { Verifier, type VerifierOptions } from './verifier.js';

declare global {
  namespace Express {
    interface Request {
      /** The verified claims, set by `requireAuth` from `@latchkey/verify/express`. */
      auth?: AccessTokenClaims;
    }
  }
}

/** What a protected route demands beyond a valid token, and how challenges are worded. */
export interface ExpressAuthOptions extends AuthenticationRequirement {
  /** The caller must have every one of these roles (else 403 insufficient_scope). */
  roles?: readonly string[];
  /** `realm` of the WWW-Authenticate challenges; omitted by default. */
  realm?: string;
}

/** The parts of Express's request and response the middleware uses (plain node:http). */
interface RequestLike {
  headers: { authorization?: string | undefined };
  auth?: AccessTokenClaims;
}
interface ResponseLike {
  writeHead(status: number, headers: Readonly<Record<string, string>>): unknown;
  end(body: string): unknown;
}

function send(res: ResponseLike, refusal: Refusal): void {
  res.writeHead(refusal.status, refusal.headers);
  res.end(refusal.body);
}

/**
 * Express middleware: 401 unless the request carries a valid Latchkey access token (403 if it
 * lacks one of `roles`); then `req.auth` holds the claims. Pass one shared `Verifier` to every
 * middleware so they share the JWKS and token caches.
 *
 * @example
 * import { createVerifier, requireAuth } from '@latchkey/verify/express';
 * const verifier = createVerifier({ issuer, audience: 'latchkey', jwksUrl: `${issuer}/.well-known/jwks.json` });
 * app.get('/orders', requireAuth(verifier), (req, res) => res.json({ owner: req.auth!.sub }));
 * app.delete('/orders/:id', requireAuth(verifier, { roles: ['admin'] }), handler);
 * app.post('/payouts', requireAuth(verifier, { maxAge: 300, amr: 'mfa' }), handler); // 403 REAUTHENTICATION_REQUIRED otherwise
 */
export function requireAuth(
  source: Verifier | VerifierOptions,
  options: ExpressAuthOptions = {},
): (req: RequestLike, res: ResponseLike, next: (err?: unknown) => void) => void {
  const verifier = source instanceof Verifier ? source : new Verifier(source);
  const refusals = buildRefusals(options.realm, verifier.jwksCooldownMs / 1000);
  const roles = [...(options.roles ?? [])];
  const forbidden = roles.length > 0 ? refusals.forbidden(roles) : undefined;
  checkRequirement(options);
  const requirement: AuthenticationRequirement = { maxAge: options.maxAge, amr: options.amr };
  const stepUp = requirement.maxAge !== undefined || requirement.amr !== undefined ? refusals.reauthenticate(requirement.maxAge) : undefined;
  const accept = (req: RequestLike, res: ResponseLike, next: (err?: unknown) => void, claims: AccessTokenClaims) => {
    if (forbidden !== undefined && !hasRoles(claims, roles)) return send(res, forbidden);
    if (stepUp !== undefined && authenticationShortfall(claims, requirement, verifier.now()) !== null) return send(res, stepUp);
    req.auth = claims;
    next();
  };
  return function latchkeyRequireAuth(req, res, next) {
    const token = bearerToken(req.headers.authorization);
    if (token === null) return send(res, refusals.missing);
    const cached = verifier.peek(token);
    if (cached !== undefined) return accept(req, res, next, cached);
    verifier.verify(token).then(
      (claims) => accept(req, res, next, claims),
      (err: unknown) => send(res, refusalFor(refusals, err)),
    );
  };
}

export type { AccessTokenClaims } from './claims.js';
export { Verifier, createVerifier, type VerifierOptions } from './verifier.js';
