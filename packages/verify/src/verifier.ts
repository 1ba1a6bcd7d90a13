import { errors as joseErrors, jwtVerify, type CryptoKey, type JWTHeaderParameters, type JWTVerifyOptions } from 'jose';
import { REQUIRED_CLAIMS, toAccessTokenClaims, type AccessTokenClaims } from './claims.js';
import { isCanonicalCompactJws } from './compact-jws.js';
import { InvalidTokenError, RevocationsUnavailableError, VerifyError } from './errors.js';
import { JwksCache, SUPPORTED_ALGORITHMS, type BoundKey, type SupportedAlgorithm } from './jwks-cache.js';
import { RevocationFollower, type RevocationOptions, type RevocationStats } from './revocations.js';
import { TokenCache } from './token-cache.js';

/** What a verifier needs to know about the issuer, and how hard to cache. */
export interface VerifierOptions {
  /** The exact `iss` of the tokens: Latchkey's `ISSUER`. */
  issuer: string;
  /** The accepted `aud` value(s): Latchkey's `AUDIENCE` (default there: "latchkey"). */
  audience: string | readonly string[];
  /** Where the public keys are, e.g. "https://auth.example.com/.well-known/jwks.json". */
  jwksUrl: string;
  /** Accepted algorithms (default RS256, ES256, EdDSA). HS256 is never accepted: its key is secret. */
  algorithms?: readonly SupportedAlgorithm[];
  /** Clock skew tolerated on `exp`, `nbf` and `iat`, seconds; default 5, at most 60. */
  leewaySeconds?: number;
  /** Least time between two JWKS fetches, ms; default 5000. Bounds what unknown kids can cost. */
  jwksCooldownMs?: number;
  /** A JWKS older than this is refreshed in the background on the next verification, ms; default 10 min. */
  jwksMaxAgeMs?: number;
  /** Timeout of one JWKS request, ms; default 5000. */
  jwksTimeoutMs?: number;
  /** How many verified tokens to remember (0 disables the cache); default 1000. */
  tokenCacheSize?: number;
  /** Longer tokens are refused before any parsing; default 8192 characters. */
  maxTokenLength?: number;
  /** Milliseconds since the epoch; default Date.now. Tests pass a frozen clock. */
  clock?: () => number;
  /** The fetch used for the JWKS (and the revocation feed); default the global fetch. */
  fetch?: typeof globalThis.fetch;
  /**
   * Follow Latchkey's revocation feed: tokens of a logged-out session or of a disabled, deleted or
   * re-credentialed user are refused within about a second, not at `exp`. Needs Latchkey's
   * `REVOCATION_FEED_TOKEN`. Call `close()` to stop following.
   */
  revocations?: RevocationOptions;
}

/** Counters for monitoring and tests. */
export interface VerifierStats {
  /** JWKS requests made so far (successful or not). */
  jwksFetches: number;
  /** Clock time of the last successful JWKS fetch. */
  jwksFetchedAt: number | undefined;
  /** Keys currently cached. */
  jwksKeys: number;
  /** Verified tokens currently remembered. */
  cachedTokens: number;
  /** The revocation feed follower's counters; undefined without the `revocations` option. */
  revocations: RevocationStats | undefined;
}

const MAX_LEEWAY_SECONDS = 60;

function positive(name: string, value: number | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < min) throw new TypeError(`@latchkey/verify: ${name} must be a number >= ${min}`);
  return value;
}

function checkUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError('@latchkey/verify: jwksUrl must be an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError('@latchkey/verify: jwksUrl must be an absolute http(s) URL');
  }
  return url.href;
}

/**
 * Verifies Latchkey access tokens offline, with the same rules as the server (RFC 8725):
 * an algorithm allow-list with each key bound to its own `alg`; `kid` used only as a map key;
 * `jwk`, `jku`, `x5u` and `x5c` headers never used; `typ` must be `at+jwt`; `iss` and `aud`
 * exact; `exp` (and `iat`, `sub`, `sid`, `jti`) required; `iat` no further ahead of the clock
 * than the leeway; leeway at most 60 s; the three segments canonical base64url (no padding,
 * whitespace or stray low bits: one spelling per token); tokens longer than `maxTokenLength`
 * refused unparsed.
 *
 * Keys come from the JWKS, fetched once and cached (see JwksCache). Tokens that passed are
 * remembered in a bounded cache keyed by the exact token string, and `exp` is checked again on
 * every hit, so repeated requests with the same token skip the signature check.
 *
 * @example
 * const verifier = createVerifier({
 *   issuer: 'https://auth.example.com',
 *   audience: 'latchkey',
 *   jwksUrl: 'https://auth.example.com/.well-known/jwks.json',
 * });
 * const claims = await verifier.verify(token); // throws InvalidTokenError
 * console.log(claims.sub, claims.roles);
 */
export class Verifier {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwksUrl: string;
  readonly leewaySeconds: number;
  readonly maxTokenLength: number;
  readonly jwksCooldownMs: number;
  private readonly clock: () => number;
  private readonly systemClock: boolean;
  private readonly jwks: JwksCache;
  private readonly tokens: TokenCache<AccessTokenClaims>;
  private readonly jwtOptions: JWTVerifyOptions;
  private readonly revocations: RevocationFollower | undefined;

  constructor(options: VerifierOptions) {
    if (typeof options.issuer !== 'string' || options.issuer === '') throw new TypeError('@latchkey/verify: issuer is required');
    const audiences = typeof options.audience === 'string' ? [options.audience] : [...(options.audience ?? [])];
    if (audiences.length === 0 || audiences.some((a) => typeof a !== 'string' || a === '')) {
      throw new TypeError('@latchkey/verify: audience is required');
    }
    const algorithms = [...(options.algorithms ?? SUPPORTED_ALGORITHMS)];
    if (algorithms.length === 0 || algorithms.some((a) => !(SUPPORTED_ALGORITHMS as readonly string[]).includes(a))) {
      throw new TypeError(`@latchkey/verify: algorithms must be a non-empty subset of ${SUPPORTED_ALGORITHMS.join(', ')}`);
    }
    this.leewaySeconds = positive('leewaySeconds', options.leewaySeconds, 5);
    if (this.leewaySeconds > MAX_LEEWAY_SECONDS) throw new TypeError('@latchkey/verify: leewaySeconds must be at most 60');
    this.maxTokenLength = positive('maxTokenLength', options.maxTokenLength, 8192, 1);
    this.issuer = options.issuer;
    this.audiences = Object.freeze(audiences);
    this.jwksUrl = checkUrl(options.jwksUrl);
    this.clock = options.clock ?? Date.now;
    this.systemClock = options.clock === undefined;
    this.jwksCooldownMs = positive('jwksCooldownMs', options.jwksCooldownMs, 5000);
    this.tokens = new TokenCache(positive('tokenCacheSize', options.tokenCacheSize, 1000));
    this.jwks = new JwksCache({
      url: this.jwksUrl,
      algorithms,
      cooldownMs: this.jwksCooldownMs,
      maxAgeMs: positive('jwksMaxAgeMs', options.jwksMaxAgeMs, 600_000),
      timeoutMs: positive('jwksTimeoutMs', options.jwksTimeoutMs, 5000, 1),
      clock: this.clock,
      fetch: options.fetch ?? globalThis.fetch,
      onKeysRemoved: () => this.tokens.clear(),
    });
    this.jwtOptions = Object.freeze({
      algorithms,
      issuer: this.issuer,
      audience: audiences,
      typ: 'at+jwt',
      clockTolerance: this.leewaySeconds,
      requiredClaims: REQUIRED_CLAIMS,
    });
    // Last: it starts fetching at once, so every check above must have passed.
    this.revocations =
      options.revocations === undefined
        ? undefined
        : new RevocationFollower({ ...options.revocations, issuer: this.issuer, clock: this.clock, fetch: options.revocations.fetch ?? options.fetch ?? globalThis.fetch });
  }

  /** The verifier's clock (milliseconds since the epoch): what `maxAge` checks measure against. */
  now(): number {
    return this.clock();
  }

  /**
   * The claims of `token` if it was verified before and has not expired since; otherwise
   * undefined (then call `verify`). Synchronous, no I/O, no allocation: the hot path of the
   * Fastify and Express helpers. Following the revocation feed adds two Map lookups; a revoked
   * token is undefined here and refused by `verify`.
   */
  peek(token: string): AccessTokenClaims | undefined {
    const now = this.clock();
    const entry = this.tokens.entry(token, Math.floor(now / 1000), this.leewaySeconds);
    if (entry === undefined) return undefined;
    const revocations = this.revocations;
    if (revocations === undefined) return entry.value;
    if (now >= revocations.refuseFrom) return undefined;
    // Checked since the last entry arrived: nothing can have revoked it (entries only add; the
    // sweep only removes). Saves the two Map lookups, which cost cache misses once the maps hold
    // thousands of entries (10,000: +350 ns per hit, measured with bench/verify-peek.mjs).
    if (entry.checkedAt === revocations.version) return entry.value;
    if (!revocations.admits(entry.value, now)) return undefined;
    entry.checkedAt = revocations.version;
    return entry.value;
  }

  /**
   * Verifies `token` and returns its claims. Rejects with InvalidTokenError (any reason to refuse
   * it) or JwksUnavailableError (its key is unknown and the JWKS cannot be fetched).
   */
  async verify(token: string): Promise<AccessTokenClaims> {
    if (typeof token !== 'string') throw new InvalidTokenError('malformed');
    const hit = this.tokens.get(token, Math.floor(this.clock() / 1000), this.leewaySeconds);
    if (hit !== undefined) return this.unlessRevoked(hit);
    if (token.length === 0 || token.length > this.maxTokenLength) throw new InvalidTokenError('malformed');
    if (!isCanonicalCompactJws(token)) throw new InvalidTokenError('not canonical base64url');
    let claims: AccessTokenClaims;
    try {
      const now = this.clock();
      const options = this.systemClock ? this.jwtOptions : { ...this.jwtOptions, currentDate: new Date(now) };
      const { payload } = await jwtVerify(token, this.resolveKey, options);
      claims = toAccessTokenClaims(payload, this.audiences);
      // jose checks iat only together with maxTokenAge (a cap on the age; exp already bounds it).
      if (claims.iat > Math.floor(now / 1000) + this.leewaySeconds) throw new InvalidTokenError('iat in the future');
    } catch (err) {
      if (err instanceof VerifyError) throw err;
      if (err instanceof joseErrors.JOSEError) throw new InvalidTokenError(err.code);
      throw new InvalidTokenError('malformed');
    }
    this.tokens.set(token, claims, claims.exp);
    return this.unlessRevoked(claims);
  }

  /**
   * Resolves once the revocation feed's backlog has been read after start (at once without the
   * `revocations` option). Await it before serving to refuse tokens revoked before start-up.
   */
  revocationsReady(): Promise<void> {
    return this.revocations?.ready() ?? Promise.resolve();
  }

  /** Stops following the revocation feed (timers and the open stream). Idempotent. */
  async close(): Promise<void> {
    await this.revocations?.close();
  }

  private unlessRevoked(claims: AccessTokenClaims): AccessTokenClaims {
    if (this.revocations === undefined) return claims;
    const now = this.clock();
    if (this.revocations.admits(claims, now)) return claims;
    const why = this.revocations.refusal(claims, now);
    if (why === 'revoked') throw new InvalidTokenError('revoked');
    if (why === 'unavailable') throw new RevocationsUnavailableError();
    return claims;
  }

  /** Fetches the JWKS now (for example at start-up, to fail fast). Rejects if it cannot. */
  refresh(): Promise<void> {
    return this.jwks.refresh();
  }

  get stats(): VerifierStats {
    return {
      jwksFetches: this.jwks.fetches,
      jwksFetchedAt: this.jwks.fetchedAt,
      jwksKeys: this.jwks.size,
      cachedTokens: this.tokens.size,
      revocations: this.revocations?.stats,
    };
  }

  /** jose calls this after it checked `alg` against the allow-list; only `kid` and `alg` are read. */
  private readonly resolveKey = (header: JWTHeaderParameters): CryptoKey | Promise<CryptoKey> => {
    const { kid } = header;
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > 256) throw new InvalidTokenError('missing kid');
    const known = this.jwks.get(kid);
    if (known !== undefined) return bindAlg(known, header.alg);
    return this.jwks.resolveUnknown(kid).then((key) => {
      if (key === undefined) throw new InvalidTokenError('unknown kid');
      return bindAlg(key, header.alg);
    });
  };
}

function bindAlg(key: BoundKey, alg: string): CryptoKey {
  // The key's own algorithm, never the token's choice: an RSA key never checks an HMAC.
  if (key.alg !== alg) throw new InvalidTokenError('alg does not match key');
  return key.key;
}

/**
 * Creates a verifier; keep one per issuer for the life of the process (it owns the caches).
 *
 * @example
 * const verifier = createVerifier({ issuer, audience: 'latchkey', jwksUrl: `${issuer}/.well-known/jwks.json` });
 */
export function createVerifier(options: VerifierOptions): Verifier {
  return new Verifier(options);
}

/** Options of `verifyAccessToken`: plain values only, so equal options share one verifier. */
export type SharedVerifierOptions = Omit<VerifierOptions, 'clock' | 'fetch'>;

const verifiersByObject = new WeakMap<object, Verifier>();
const verifiersByKey = new Map<string, Verifier>();

function sharedVerifier(options: SharedVerifierOptions): Verifier {
  let verifier = verifiersByObject.get(options);
  if (verifier !== undefined) return verifier;
  const key = JSON.stringify([
    options.issuer,
    options.audience,
    options.jwksUrl,
    options.algorithms,
    options.leewaySeconds,
    options.jwksCooldownMs,
    options.jwksMaxAgeMs,
    options.jwksTimeoutMs,
    options.tokenCacheSize,
    options.maxTokenLength,
    options.revocations === undefined ? null : [options.revocations.url, options.revocations.token, options.revocations.onFeedUnavailable, options.revocations.reconnectMaxMs],
  ]);
  verifier = verifiersByKey.get(key);
  if (verifier === undefined) {
    verifier = new Verifier(options);
    verifiersByKey.set(key, verifier);
  }
  verifiersByObject.set(options, verifier);
  return verifier;
}

/**
 * Verifies a Latchkey access token against the issuer's JWKS and returns its claims. Calls with
 * the same options share one verifier, so the JWKS is fetched once, not per call.
 *
 * @example
 * const claims = await verifyAccessToken(token, {
 *   issuer: 'https://auth.example.com',
 *   audience: 'latchkey',
 *   jwksUrl: 'https://auth.example.com/.well-known/jwks.json',
 * });
 */
export function verifyAccessToken(token: string, options: SharedVerifierOptions): Promise<AccessTokenClaims> {
  return sharedVerifier(options).verify(token);
}
