/** An access token and the moment (epoch ms, by the client's clock) it expires. */
export interface AccessToken {
  readonly value: string;
  readonly expiresAt: number;
  readonly lifetimeMs: number;
}

/**
 * Holds the access token in a closure and nowhere else: not in localStorage, sessionStorage,
 * a cookie or a global. A page reload forgets it; the refresh cookie brings it back.
 */
export interface TokenStore {
  get(): AccessToken | null;
  set(token: AccessToken | null): void;
  /** Bumped on every set: tells a waiting refresh that a newer token arrived meanwhile. */
  generation(): number;
}

export function createTokenStore(): TokenStore {
  let current: AccessToken | null = null;
  let generation = 0;
  return {
    get: () => current,
    set(token) {
      current = token;
      generation += 1;
    },
    generation: () => generation,
  };
}

/** The `sid` claim of a JWT, read without verification (the server verifies; this only compares ids). */
export function sessionIdOf(token: string): string | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(json) as { sid?: unknown };
    return typeof claims.sid === 'string' ? claims.sid : null;
  } catch {
    return null;
  }
}
