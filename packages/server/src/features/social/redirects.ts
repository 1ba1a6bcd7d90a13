/**
 * REDIRECT_ALLOWED_URLS (docs/social-login.md): where a social sign-in may send the browser back
 * with its exchange code. An open redirect here would hand the code to any site, so a value is
 * allowed only when it is one of the listed URLs exactly, or lies under a listed prefix (an entry
 * ending in `/`): same origin (scheme, host, port) and a path that starts with the prefix's path.
 * URLs are compared parsed, so `https://app.example@evil.example/` or `https://app.example.evil/`
 * never pass for `https://app.example/`.
 */

/**
 * The redirect_to value as a URL when the allow-list lets it through, else null.
 *
 * @example
 * allowedRedirect('https://app.example/auth/done', ['https://app.example/']); // URL
 * allowedRedirect('https://evil.example/', ['https://app.example/']); // null
 */
export function allowedRedirect(candidate: string, allowList: readonly string[]): URL | null {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '' || url.hash !== '') return null;
  for (const entry of allowList) {
    const allowed = new URL(entry);
    if (entry.endsWith('/')) {
      if (url.origin === allowed.origin && url.pathname.startsWith(allowed.pathname)) return url;
    } else if (url.href === allowed.href) {
      return url;
    }
  }
  return null;
}

/**
 * The redirect back to the app with `params` added (the exchange code, or an error). Anything
 * the allowed URL already carried stays; a parameter of the same name is replaced.
 */
export function redirectWith(redirectTo: string, params: Record<string, string>): string {
  const url = new URL(redirectTo);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.href;
}
