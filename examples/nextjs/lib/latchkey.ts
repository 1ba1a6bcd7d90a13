// Server-side only: verifies Latchkey access tokens for route handlers and server components.
import {
  bearerToken,
  createVerifier,
  InvalidTokenError,
  JwksUnavailableError,
  type AccessTokenClaims,
  type Verifier,
} from '@latchkey/verify';
import { cookies } from 'next/headers';

/**
 * The app's own cookie holding the current access token, for server components: a page
 * navigation carries cookies, not the in-memory token of @latchkey/client. HttpOnly, set only by
 * POST /api/session from a bearer header (see app/api/session/route.ts).
 */
export const ACCESS_COOKIE = 'app_access_token';

let shared: Verifier | undefined;

function settings() {
  const issuer = process.env.LATCHKEY_ISSUER;
  if (!issuer) throw new Error("LATCHKEY_ISSUER is not set (Latchkey's ISSUER, exactly)");
  // Where this server reaches Latchkey, when that is not the public issuer URL.
  const latchkeyUrl = (process.env.LATCHKEY_URL ?? issuer).replace(/\/+$/, '');
  return {
    issuer,
    latchkeyUrl,
    audience: process.env.LATCHKEY_AUDIENCE ?? 'latchkey',
    jwksUrl: process.env.LATCHKEY_JWKS_URL ?? `${latchkeyUrl}/.well-known/jwks.json`,
  };
}

/**
 * One verifier per server process: it holds the JWKS and the cache of verified tokens. Made at
 * the first use rather than at import, because `next build` imports this file without the
 * variables.
 */
export function verifier(): Verifier {
  if (shared === undefined) {
    const { issuer, audience, jwksUrl } = settings();
    shared = createVerifier({ issuer, audience, jwksUrl });
  }
  return shared;
}

/**
 * At start-up (instrumentation.ts): Latchkey answers, names LATCHKEY_ISSUER as its issuer, and
 * publishes a key. A mistake there would otherwise show only as a 401 for every request.
 */
export async function checkLatchkey(): Promise<void> {
  const { issuer, latchkeyUrl, jwksUrl } = settings();
  const url = `${latchkeyUrl}/.well-known/openid-configuration`;
  let discovered: unknown;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    discovered = ((await res.json()) as { issuer?: unknown }).issuer;
  } catch (err) {
    throw new Error(`cannot read Latchkey's discovery document at ${url}: ${(err as Error).message}`);
  }
  if (discovered !== issuer) {
    throw new Error(
      `the Latchkey at ${latchkeyUrl} says its issuer is ${JSON.stringify(discovered)}, but LATCHKEY_ISSUER is ${JSON.stringify(issuer)}: every token would be refused`,
    );
  }
  const latchkey = verifier();
  await latchkey.refresh().catch((err: Error) => {
    throw new Error(`cannot fetch the JWKS at ${jwksUrl}: ${err.message}`);
  });
  if (latchkey.stats.jwksKeys === 0) throw new Error(`the JWKS at ${jwksUrl} has no usable signing key (an HS256 Latchkey publishes none)`);
}

/** For instrumentation.ts: exits the process with the reason when `checkLatchkey` fails. */
export async function checkLatchkeyOrExit(): Promise<void> {
  try {
    await checkLatchkey();
  } catch (err) {
    console.error(`latchkey: ${(err as Error).message}`);
    process.exit(1);
  }
}

/** Why a token was refused goes to the log, never to the client (and never the token). */
function logRefusal(err: InvalidTokenError): void {
  console.info(`latchkey: access token refused: ${err.reason}`);
}

function problem(status: number, code: string, title: string, headers: Record<string, string>): Response {
  // The same problem+json shape as Latchkey and @latchkey/verify's Fastify and Express helpers.
  const body = { type: `urn:latchkey:error:${code.toLowerCase()}`, title, status, code };
  return Response.json(body, {
    status,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store', ...headers },
  });
}

/**
 * The verified claims of the request's `Authorization: Bearer` token, or the response to send
 * instead: 401 without a valid token, 503 while the signing keys cannot be fetched.
 *
 * @example
 * const user = await requireUser(request);
 * if (user instanceof Response) return user;
 */
export async function requireUser(request: Request): Promise<AccessTokenClaims | Response> {
  const token = bearerToken(request.headers.get('authorization') ?? undefined);
  if (token === null) return problem(401, 'UNAUTHORIZED', 'Authentication required', { 'www-authenticate': 'Bearer' });
  const latchkey = verifier();
  try {
    return await latchkey.verify(token);
  } catch (err) {
    if (err instanceof InvalidTokenError) {
      logRefusal(err);
      return problem(401, 'INVALID_TOKEN', 'Invalid access token', { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
    if (err instanceof JwksUnavailableError) {
      return problem(503, 'SERVICE_UNAVAILABLE', 'Service unavailable', { 'retry-after': '5' });
    }
    throw err;
  }
}

/**
 * For server components: the claims of the access token in the app's cookie, or null when there
 * is none or it is refused (expired, wrong issuer, forged). A JWKS outage throws: that is not
 * "signed out".
 */
export async function currentUser(): Promise<AccessTokenClaims | null> {
  const token = (await cookies()).get(ACCESS_COOKIE)?.value;
  if (!token) return null;
  const latchkey = verifier();
  try {
    return await latchkey.verify(token);
  } catch (err) {
    if (!(err instanceof InvalidTokenError)) throw err;
    logRefusal(err);
    return null;
  }
}
