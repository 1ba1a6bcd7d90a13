import { importJWK, type CryptoKey, type JWK } from 'jose';
import { JwksUnavailableError } from './errors.js';

/** The asymmetric algorithms Latchkey signs access tokens with. */
export const SUPPORTED_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
export type SupportedAlgorithm = (typeof SUPPORTED_ALGORITHMS)[number];

/** A public key bound to exactly one algorithm: a token must name that algorithm to use it. */
export interface BoundKey {
  readonly kid: string;
  readonly alg: SupportedAlgorithm;
  readonly key: CryptoKey;
}

export interface JwksCacheOptions {
  url: string;
  algorithms: readonly SupportedAlgorithm[];
  /** Least time between two fetches, whatever triggers them (unknown kids, staleness). */
  cooldownMs: number;
  /** After this long a lookup of a known kid triggers one background refresh. */
  maxAgeMs: number;
  timeoutMs: number;
  clock: () => number;
  fetch: typeof globalThis.fetch;
  /** Called after a refresh dropped keys (revoked or expired), so derived caches can forget. */
  onKeysRemoved: () => void;
}

/** Largest JWKS document accepted; a real one is a few kilobytes. */
const MAX_JWKS_BYTES = 256 * 1024;

/** Public members of the JWK types we accept; anything else (a private `d`) is never imported. */
const PUBLIC_MEMBERS = ['kty', 'n', 'e', 'crv', 'x', 'y'] as const;

const KTY_FOR_ALG: Record<SupportedAlgorithm, { kty: string; crv?: string }> = {
  RS256: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: 'P-256' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
};

async function importBound(raw: unknown, allowed: ReadonlySet<string>): Promise<BoundKey | undefined> {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const jwk = raw as Record<string, unknown>;
  const { kid, alg, use, key_ops: keyOps } = jwk;
  // A key without `alg` is skipped rather than guessed from its type: the binding
  // "this key verifies this algorithm only" must come from the issuer.
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > 256) return undefined;
  if (typeof alg !== 'string' || !allowed.has(alg)) return undefined;
  if (use !== undefined && use !== 'sig') return undefined;
  if (keyOps !== undefined && (!Array.isArray(keyOps) || !keyOps.includes('verify'))) return undefined;
  const expected = KTY_FOR_ALG[alg as SupportedAlgorithm];
  if (jwk.kty !== expected.kty || (expected.crv !== undefined && jwk.crv !== expected.crv)) return undefined;
  const publicJwk: JWK = {};
  for (const member of PUBLIC_MEMBERS) if (typeof jwk[member] === 'string') publicJwk[member] = jwk[member];
  try {
    const key = await importJWK(publicJwk, alg === 'EdDSA' ? 'Ed25519' : alg);
    if (key instanceof Uint8Array) return undefined;
    return { kid, alg: alg as SupportedAlgorithm, key };
  } catch {
    return undefined;
  }
}

/**
 * The verifier's copy of the issuer's JWKS: a map kid -> key. It is fetched once, then again only
 * for a kid it does not know (rotation) or once it is older than `maxAgeMs` (revocation), and never
 * more often than once per `cooldownMs`, so a flood of made-up kids costs at most one request per
 * cooldown. Concurrent lookups share one in-flight fetch.
 */
export class JwksCache {
  private keys = new Map<string, BoundKey>();
  private readonly allowed: ReadonlySet<string>;
  private inflight: Promise<void> | undefined;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private lastFetchFailed: unknown = undefined;
  /** HTTP requests for the JWKS so far, successful or not; tests and metrics read it. */
  fetches = 0;
  /** Clock time of the last successful fetch, or undefined before the first. */
  fetchedAt: number | undefined;

  constructor(private readonly options: JwksCacheOptions) {
    this.allowed = new Set(options.algorithms);
  }

  get size(): number {
    return this.keys.size;
  }

  /** The cached key for `kid`; never does I/O. Schedules a background refresh when stale. */
  get(kid: string): BoundKey | undefined {
    const key = this.keys.get(kid);
    if (key !== undefined && this.fetchedAt !== undefined && this.options.clock() - this.fetchedAt >= this.options.maxAgeMs) {
      this.refreshIfAllowed();
    }
    return key;
  }

  /**
   * The key for a kid `get` did not know: refetches if the cooldown allows (or joins the fetch in
   * flight), then looks again. Resolves undefined for a kid the issuer does not publish; rejects
   * with JwksUnavailableError when the kid is unknown and the last fetch failed.
   */
  async resolveUnknown(kid: string): Promise<BoundKey | undefined> {
    const pending = this.inflight ?? this.refreshIfAllowed();
    if (pending) await pending.catch(() => undefined);
    const key = this.keys.get(kid);
    if (key === undefined && this.lastFetchFailed !== undefined) {
      throw new JwksUnavailableError({ cause: this.lastFetchFailed });
    }
    return key;
  }

  /** Fetches now, ignoring the cooldown (joins a fetch in flight). Rejects if the fetch fails. */
  refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private refreshIfAllowed(): Promise<void> | undefined {
    if (this.inflight) return this.inflight;
    if (this.options.clock() - this.lastAttemptAt < this.options.cooldownMs) return undefined;
    const pending = this.refresh();
    pending.catch(() => undefined);
    return pending;
  }

  private async load(): Promise<void> {
    this.lastAttemptAt = this.options.clock();
    try {
      let next: Map<string, BoundKey>;
      try {
        next = await this.fetchKeys();
      } catch (err) {
        // A network-level failure (fetch's TypeError) is retried once at once: after a long idle
        // time the pooled keep-alive connection is often already closed by the server, and the
        // rotation that sent us here should not wait a whole cooldown for that.
        if (!(err instanceof TypeError)) throw err;
        next = await this.fetchKeys();
      }
      let removed = false;
      for (const kid of this.keys.keys()) if (!next.has(kid)) removed = true;
      this.keys = next;
      this.fetchedAt = this.options.clock();
      this.lastFetchFailed = undefined;
      if (removed) this.options.onKeysRemoved();
    } catch (err) {
      this.lastFetchFailed = err;
      throw err;
    }
  }

  private async fetchKeys(): Promise<Map<string, BoundKey>> {
    this.fetches += 1;
    const response = await this.options.fetch(this.options.url, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`JWKS answered HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get('content-length') ?? 0);
    if (declared > MAX_JWKS_BYTES) {
      await response.body?.cancel();
      throw new Error('JWKS too large');
    }
    const text = await response.text();
    if (text.length > MAX_JWKS_BYTES) throw new Error('JWKS too large');
    const doc = JSON.parse(text) as unknown;
    if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { keys?: unknown }).keys)) {
      throw new Error('JWKS has no "keys" array');
    }
    const next = new Map<string, BoundKey>();
    for (const raw of (doc as { keys: unknown[] }).keys) {
      const bound = await importBound(raw, this.allowed);
      // A kid published twice is ambiguous; the first wins, as a map key must be unique.
      if (bound && !next.has(bound.kid)) next.set(bound.kid, bound);
    }
    return next;
  }
}
