import { LatchkeyError } from './errors.js';
import { toBase64url } from './webauthn.js';

/**
 * The browser half of a social sign-in (docs/social-login.md): the app's PKCE pair, kept in the
 * tab's sessionStorage across the navigation to the provider and back, and the reading of the
 * redirect Latchkey sends the browser back with (`?code=` or `?error=`). No protocol with the
 * provider happens here: Latchkey speaks OpenID Connect / OAuth with it; the app only ever sees a
 * single-use exchange code, never a token in a URL.
 */

/** Where the verifier waits during the round trip: one per tab (sessionStorage is per tab). */
export type VerifierStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/** A PKCE pair (RFC 7636, S256). */
export interface PkcePair {
  verifier: string;
  challenge: string;
}

/**
 * A fresh PKCE pair: 32 random bytes as the verifier (43 base64url characters, RFC 7636 §4.1's
 * recommendation), its SHA-256 as the challenge. Web Crypto only, no dependency.
 *
 * @example
 * const { verifier, challenge } = await createPkcePair();
 */
export async function createPkcePair(): Promise<PkcePair> {
  // Web Crypto's digest exists only in secure contexts (https, localhost): say so rather than a TypeError.
  if (typeof globalThis.crypto?.subtle?.digest !== 'function') {
    throw new LatchkeyError('INVALID_REQUEST', 'A social sign-in needs a secure page (https, or localhost): crypto.subtle is missing.', 0);
  }
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  const verifier = toBase64url(bytes);
  return { verifier, challenge: await pkceChallenge(verifier) };
}

/**
 * The S256 challenge of a verifier: base64url(SHA-256(ASCII(verifier))).
 *
 * @example
 * await pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'); // 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM' (RFC 7636 B)
 */
export async function pkceChallenge(verifier: string): Promise<string> {
  return toBase64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
}

/** What Latchkey's redirect back to the app carries. */
export type RedirectParams = { kind: 'code'; code: string } | { kind: 'error'; code: string } | { kind: 'none' };

/** A server code as it appears in `?error=`: UPPER_SNAKE only, so a crafted link cannot smuggle text into one. */
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * Reads `?code=` or `?error=` from a redirect URL. `error_description` is deliberately not read:
 * anyone can link to the app with a made-up description, and showing it would let them write
 * into the app's page; the app says what the code means in its own words.
 *
 * @example
 * redirectParams('https://app.example/?code=abc');                  // { kind: 'code', code: 'abc' }
 * redirectParams('https://app.example/?error=LAST_SIGN_IN_METHOD'); // { kind: 'error', code: 'LAST_SIGN_IN_METHOD' }
 */
export function redirectParams(url: string): RedirectParams {
  let query: URLSearchParams;
  try {
    query = new URL(url, 'http://relative.invalid').searchParams;
  } catch {
    return { kind: 'none' };
  }
  const error = query.get('error');
  if (error !== null) return { kind: 'error', code: ERROR_CODE.test(error) ? error : 'PROVIDER_ERROR' };
  const code = query.get('code');
  return code ? { kind: 'code', code } : { kind: 'none' };
}

/** The parameters of Latchkey's redirect, removed from the address bar once read. */
const REDIRECT_PARAMS = ['code', 'error', 'error_description'];

/**
 * Removes the redirect's parameters from the page's address (history.replaceState, no
 * navigation), so that a reload, a bookmark or a copied link never carries the exchange code.
 * Only when the page's address is the one read (`url`): a URL given by the app from elsewhere
 * leaves the address bar alone.
 */
export function cleanAddressBar(url: string): void {
  const loc = (globalThis as { location?: Location }).location;
  const history = (globalThis as { history?: History }).history;
  if (!loc || !history || typeof history.replaceState !== 'function') return;
  const current = new URL(loc.href);
  const read = new URL(url, loc.href);
  if (current.search !== read.search || current.pathname !== read.pathname) return;
  for (const name of REDIRECT_PARAMS) current.searchParams.delete(name);
  history.replaceState(history.state, '', current.href);
}

/** The default `redirectTo`: this page's address without its fragment (Latchkey adds `?code=`; a fragment is the app's). */
export function currentPageUrl(): string {
  const loc = (globalThis as { location?: Location }).location;
  if (!loc) throw new LatchkeyError('INVALID_REQUEST', 'redirectTo is required outside a browser page.', 0);
  const url = new URL(loc.href);
  url.hash = '';
  for (const name of REDIRECT_PARAMS) url.searchParams.delete(name);
  return url.href;
}

/** The browser's own sessionStorage, or null where there is none (Node, a sandboxed frame that refuses it). */
export function browserSessionStorage(): VerifierStorage | null {
  try {
    return (globalThis as { sessionStorage?: VerifierStorage }).sessionStorage ?? null;
  } catch {
    return null; // reading the property throws where storage is blocked
  }
}

/** Navigates the page (the default `navigate` option). */
export function browserNavigate(url: string): void {
  const loc = (globalThis as { location?: Location }).location;
  if (!loc) throw new LatchkeyError('INVALID_REQUEST', 'There is no page to navigate here; pass the navigate option.', 0);
  loc.assign(url);
}
