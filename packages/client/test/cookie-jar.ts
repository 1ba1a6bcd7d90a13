/**
 * What a browser does with cookies, for the Node tests of the SDK: stores Set-Cookie (Path,
 * Max-Age, Expires, HttpOnly), sends matching cookies back, and exposes only the non-HttpOnly
 * ones to "scripts" (readCookie), like document.cookie. Every request is recorded.
 */
interface StoredCookie {
  name: string;
  value: string;
  path: string;
  httpOnly: boolean;
  expiresAt: number | null;
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
  code: string | null;
}

export interface CookieJarBrowser {
  fetch: typeof fetch;
  readCookie(name: string): string | null;
  cookie(name: string): StoredCookie | undefined;
  requests: RecordedRequest[];
  count(method: string, path: string): number;
}

export function cookieJarBrowser(): CookieJarBrowser {
  const cookies = new Map<string, StoredCookie>();
  const requests: RecordedRequest[] = [];

  const live = () => {
    const now = Date.now();
    for (const [key, c] of cookies) if (c.expiresAt !== null && c.expiresAt <= now) cookies.delete(key);
    return [...cookies.values()];
  };

  function store(header: string): void {
    const [pair, ...attributes] = header.split(';');
    const eq = pair!.indexOf('=');
    const cookie: StoredCookie = {
      name: pair!.slice(0, eq).trim(),
      value: pair!.slice(eq + 1).trim(),
      path: '/',
      httpOnly: false,
      expiresAt: null,
    };
    for (const attribute of attributes) {
      const [k, v = ''] = attribute.split('=').map((x) => x.trim());
      const key = k!.toLowerCase();
      if (key === 'path') cookie.path = v;
      else if (key === 'httponly') cookie.httpOnly = true;
      else if (key === 'max-age') cookie.expiresAt = Date.now() + Number(v) * 1000;
      else if (key === 'expires' && cookie.expiresAt === null) cookie.expiresAt = Date.parse(v);
    }
    cookies.set(`${cookie.name};${cookie.path}`, cookie);
    live();
  }

  const jarFetch: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const matching = live().filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`));
    const headers = new Headers(request.headers);
    if (matching.length > 0) headers.set('cookie', matching.map((c) => `${c.name}=${c.value}`).join('; '));
    const response = await fetch(new Request(request, { headers }));
    for (const header of response.headers.getSetCookie()) store(header);
    let code: string | null = null;
    if (!response.ok && (response.headers.get('content-type') ?? '').includes('json')) {
      code = ((await response.clone().json()) as { code?: string }).code ?? null;
    }
    requests.push({ method: request.method, path: url.pathname, status: response.status, code });
    return response;
  };

  return {
    fetch: jarFetch,
    readCookie: (name) => live().find((c) => c.name === name && !c.httpOnly)?.value ?? null,
    cookie: (name) => live().find((c) => c.name === name),
    requests,
    count: (method, path) => requests.filter((r) => r.method === method && r.path === path).length,
  };
}
