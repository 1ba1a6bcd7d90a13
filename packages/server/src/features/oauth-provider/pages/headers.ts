import { randomBytes } from 'node:crypto';

/** A fresh CSP nonce: 16 random bytes, base64 (one per response, never reused). */
export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

/**
 * The Content-Security-Policy of a page: nothing but its own nonce'd script and stylesheet, images
 * from https: (a client's or the brand's logo) and data:, fetches to Latchkey only, and no framing.
 *
 * There is deliberately no `form-action`: Chromium applies it to the redirects that follow a
 * form's POST, and the consent form's answer is a redirect to the client's redirect_uri on another
 * origin, which `form-action 'self'` would block.
 */
export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self' https: data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Every header a page goes out with (Fastify and oidc-provider's Koa context alike). */
export function pageHeaders(nonce: string): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': contentSecurityPolicy(nonce),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` with the
    // forms' POSTs, which Latchkey's cross-site check (rightly) refuses. No other origin (a logo's
    // host, the app) ever gets the interaction's URL.
    'referrer-policy': 'same-origin',
    // A page holds a CSRF token and the signed-in user's address: never kept by a cache.
    'cache-control': 'no-store',
  };
}
