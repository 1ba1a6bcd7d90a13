import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type LatchkeyClient } from '../src/index.js';
import { createPkcePair, pkceChallenge, redirectParams } from '../src/social.js';
import { newChannel, rejection } from './support.js';

// The parts of a social sign-in that happen in the browser alone, before any request: the PKCE
// pair, the navigation to /start, and the refusals handleRedirectCallback makes without asking
// the server. The round trips through a real OpenID provider are in social.test.ts.

/** sessionStorage as a browser tab has it (the Web Storage API on a Map). */
function tabStorage(): Storage & { entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return {
    entries,
    get length() {
      return entries.size;
    },
    clear: () => entries.clear(),
    getItem: (key) => entries.get(key) ?? null,
    key: (i) => [...entries.keys()][i] ?? null,
    removeItem: (key) => void entries.delete(key),
    setItem: (key, value) => void entries.set(key, String(value)),
  };
}

/** A fetch that records every call and answers none: these cases must not reach a server. */
function noNetwork(): { fetch: typeof fetch; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    fetch: async (input) => {
      calls.push(String(input instanceof Request ? input.url : input));
      throw new TypeError('no network in this test');
    },
  };
}

const open: LatchkeyClient[] = [];
afterEach(() => {
  for (const client of open.splice(0)) client.close();
});

function client(extra: Parameters<typeof createClient>[0]): LatchkeyClient {
  const c = createClient(extra);
  open.push(c);
  return c;
}

describe('PKCE', () => {
  it('computes the S256 challenge of RFC 7636 Appendix B', async () => {
    expect(await pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('makes a fresh 43-character base64url verifier each time, with its challenge', async () => {
    const a = await createPkcePair();
    const b = await createPkcePair();
    expect(a.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.verifier).not.toBe(b.verifier);
    expect(a.challenge).toBe(await pkceChallenge(a.verifier));
  });
});

describe('redirect parameters', () => {
  it('reads a code or an UPPER_SNAKE error, and nothing else', () => {
    expect(redirectParams('https://app.example/?code=abc#/login')).toEqual({ kind: 'code', code: 'abc' });
    expect(redirectParams('https://app.example/?error=ACCOUNT_EXISTS_LINK_REQUIRED&error_description=x')).toEqual({
      kind: 'error',
      code: 'ACCOUNT_EXISTS_LINK_REQUIRED',
    });
    // A crafted link's free text never becomes a code the app would look up.
    expect(redirectParams('https://app.example/?error=Call%20us%20at%20555')).toEqual({ kind: 'error', code: 'PROVIDER_ERROR' });
    expect(redirectParams('https://app.example/#/profile')).toEqual({ kind: 'none' });
  });
});

describe('signInWithProvider', () => {
  it('keeps the verifier in the tab and navigates to /start with redirect_to and the S256 challenge', async () => {
    const storage = tabStorage();
    const navigations: string[] = [];
    const net = noNetwork();
    const auth = client({
      baseUrl: 'https://auth.example.com/',
      fetch: net.fetch,
      channelName: newChannel(),
      verifierStorage: storage,
      navigate: (url) => navigations.push(url),
    });
    await auth.signInWithProvider('acme-idp', { redirectTo: 'https://app.example.com/welcome' });

    expect(navigations).toHaveLength(1);
    const url = new URL(navigations[0]!);
    expect(url.origin + url.pathname).toBe('https://auth.example.com/auth/oauth/acme-idp/start');
    expect(url.searchParams.get('redirect_to')).toBe('https://app.example.com/welcome');
    const [verifier] = [...storage.entries.values()];
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('code_challenge')).toBe(await pkceChallenge(verifier!));
    // The verifier itself never leaves the tab before the exchange.
    expect(navigations[0]).not.toContain(verifier);
    expect(net.calls).toEqual([]);
  });
});

describe('handleRedirectCallback without the server', () => {
  it('turns ?error= into a LatchkeyError of that code (status 0), drops the description and the verifier', async () => {
    const storage = tabStorage();
    const net = noNetwork();
    const auth = client({
      baseUrl: '',
      fetch: net.fetch,
      channelName: newChannel(),
      verifierStorage: storage,
      navigate: () => undefined,
    });
    await auth.signInWithProvider('google', { redirectTo: 'https://app.example/' });
    expect(storage.entries.size).toBe(1);

    const error = await rejection(
      auth.handleRedirectCallback('https://app.example/?error=ACCOUNT_EXISTS_LINK_REQUIRED&error_description=Visit%20evil.example'),
    );
    expect(error.code).toBe('ACCOUNT_EXISTS_LINK_REQUIRED');
    expect(error.status).toBe(0);
    expect(error.message).not.toContain('evil');
    expect(storage.entries.size).toBe(0);
    expect(net.calls).toEqual([]);
  });

  it('never exchanges a code this tab did not ask for (no verifier): INVALID_OAUTH_STATE, no request', async () => {
    const net = noNetwork();
    const auth = client({ baseUrl: '', fetch: net.fetch, channelName: newChannel(), verifierStorage: tabStorage() });
    const error = await rejection(auth.handleRedirectCallback('https://app.example/?code=sent-by-someone-else'));
    expect(error.code).toBe('INVALID_OAUTH_STATE');
    expect(net.calls).toEqual([]);
  });

  it('resolves to null for a URL that is no redirect from Latchkey', async () => {
    const auth = client({ baseUrl: '', fetch: noNetwork().fetch, channelName: newChannel(), verifierStorage: tabStorage() });
    expect(await auth.handleRedirectCallback('https://app.example/#/profile')).toBeNull();
  });
});
