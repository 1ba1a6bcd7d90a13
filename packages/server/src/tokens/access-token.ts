import { errors as joseErrors, jwtVerify, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { TokensConfig } from '../config.js';
import { isCanonicalCompactJws } from './compact-jws.js';
import { JwsSigner } from './jws-signer.js';
import type { KeyRing, VerificationKey } from './keys.js';

/** The claims Latchkey puts in every access token (RFC 9068 profile, plus roles). */
export interface AccessTokenClaims {
  /** RFC 8176 methods of the session's sign-in; absent on tokens issued before factors existed. */
  amr?: readonly string[];
  /** Epoch seconds of the session's sign-in (RFC 9068 2.2.1); absent on older tokens. */
  auth_time?: number;
  iss: string;
  aud: string;
  sub: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
  roles: string[];
  email_verified: boolean;
}

export interface AccessTokenSubject {
  userId: string;
  sessionId: string;
  roles: string[];
  emailVerified: boolean;
  /** The session's `amr` (SessionRecord.amr). */
  amr: readonly string[];
  /** The session's sign-in, epoch ms (SessionRecord.authTime); sent in seconds. */
  authTime: number;
}

/** Why a token was refused; logged at debug level, never sent to the client beyond a generic text. */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

/** Access tokens longer than this are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192;

/** How many verified tokens are remembered (about 1 KiB each): enough for the active users of a busy minute. */
export const VERIFIED_CACHE_SIZE = 10_000;

/**
 * A token that passed full verification, remembered by its exact string. The claims cannot
 * change for the same string, so a hit only re-checks what depends on time and on the key
 * set: `exp`/`nbf` against the clock, and that the very key object that verified it is still
 * the ring's key for its kid (a reload or a dropped key forces a full verification again).
 */
interface VerifiedToken {
  /** The whole token: a hit must equal it exactly (the map is keyed by its last characters only). */
  readonly token: string;
  readonly claims: AccessTokenClaims;
  readonly kid: string;
  readonly key: VerificationKey;
  readonly nbf: number | undefined;
}

/**
 * The cache is keyed by the token's last characters (signature bytes), compared in full on a
 * hit: hashing a 700-character string for every look-up cost about 3 % of a GET /auth/me.
 */
const CACHE_KEY_CHARS = 24;

function cacheKey(token: string): string {
  return token.length > CACHE_KEY_CHARS ? token.slice(-CACHE_KEY_CHARS) : token;
}

const ASYMMETRIC_ALGS = ['RS256', 'ES256', 'EdDSA'];

/**
 * Issues and verifies access tokens. Verification follows RFC 8725: the algorithm allow-list is
 * fixed at construction and each key is bound to one algorithm; `kid` is only a map key; the
 * `jwk`, `jku`, `x5u` and `x5c` headers are never used to find a key; `exp` is required; `iss`,
 * `aud` and `typ` must match exactly; `iat` may not be ahead of the clock by more than the
 * leeway; the three segments must be canonical base64url (one spelling per token).
 */
export class AccessTokens {
  private readonly allowedAlgorithms: string[];
  private readonly ttlSeconds: number;
  private readonly leewaySeconds: number;
  /** Insertion-ordered, so the oldest entry is the first one dropped when full. */
  private readonly verified = new Map<string, VerifiedToken>();
  /** The signer of the ring's current signing key; rebuilt when a reload brings another key object. */
  private signer: JwsSigner | undefined;

  constructor(
    private readonly config: TokensConfig,
    private readonly keys: KeyRing,
    private readonly clock: Clock,
  ) {
    // HS256 is accepted only when it is the configured algorithm: a server on RS256 never
    // accepts an HMAC token (the "public key as HMAC secret" confusion).
    this.allowedAlgorithms = config.jwtAlg === 'HS256' ? ['HS256'] : ASYMMETRIC_ALGS;
    this.ttlSeconds = Math.floor(config.accessTokenTtlMs / 1000);
    this.leewaySeconds = Math.floor(config.jwtLeewayMs / 1000);
  }

  get expiresIn(): number {
    return this.ttlSeconds;
  }

  async sign(subject: AccessTokenSubject): Promise<string> {
    const key = this.keys.signingKey;
    if (this.signer?.key !== key) this.signer = new JwsSigner(key, { typ: 'at+jwt' });
    const iat = Math.floor(this.clock() / 1000);
    // The claim order jose's SignJWT produced: the private claims, then iss, aud, sub, jti, iat, exp.
    const claims = {
      sid: subject.sessionId,
      roles: subject.roles,
      email_verified: subject.emailVerified,
      amr: subject.amr,
      auth_time: Math.floor(subject.authTime / 1000),
      iss: this.config.issuer,
      aud: this.config.audience,
      sub: subject.userId,
      jti: randomUUID(),
      iat,
      exp: iat + this.ttlSeconds,
    };
    return this.signer.sign(JSON.stringify(claims));
  }

  /**
   * Verifies a compact JWS access token; throws InvalidTokenError on any failure. A token seen
   * before is answered from the cache of verified tokens after re-checking its expiry and its
   * key (see VerifiedToken); anything else gets the full verification. Only tokens that passed
   * are cached, so garbage cannot fill the cache, and it is bounded anyway.
   */
  async verify(token: string): Promise<AccessTokenClaims> {
    if (token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError('token too long');
    const nowSeconds = Math.floor(this.clock() / 1000);
    const key = cacheKey(token);
    const hit = this.verified.get(key);
    if (hit !== undefined && hit.token === token) {
      if (this.stillValid(hit, nowSeconds)) return hit.claims;
      this.verified.delete(key);
    }
    // Only here, not before the cache: a hit is a string equal to a token that passed this.
    if (!isCanonicalCompactJws(token)) throw new InvalidTokenError('not canonical base64url');
    let verifiedBy: VerificationKey | undefined;
    let claims: AccessTokenClaims;
    let nbf: number | undefined;
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          verifiedBy = await this.resolveKey(header);
          return verifiedBy.key;
        },
        {
          algorithms: this.allowedAlgorithms,
          issuer: this.config.issuer,
          audience: this.config.audience,
          typ: 'at+jwt',
          clockTolerance: this.leewaySeconds,
          currentDate: new Date(nowSeconds * 1000),
          requiredClaims: ['exp', 'iat', 'sub', 'sid', 'jti'],
        },
      );
      claims = checkClaims(payload);
      // jose checks iat only together with maxTokenAge (a cap on the age we do not want: exp
      // already bounds it). A token issued in the future is refused here, with the nbf leeway.
      if (claims.iat > nowSeconds + this.leewaySeconds) throw new InvalidTokenError('iat in the future');
      nbf = payload.nbf;
    } catch (err) {
      if (err instanceof InvalidTokenError) throw err;
      if (err instanceof joseErrors.JOSEError) throw new InvalidTokenError(err.code);
      throw new InvalidTokenError('malformed');
    }
    if (verifiedBy) this.remember(key, { token, claims, kid: verifiedBy.kid, key: verifiedBy, nbf });
    return claims;
  }

  /**
   * The same time checks as the full verification (`exp <= now - leeway`, `nbf > now + leeway`
   * and `iat > now + leeway` fail: the clock may have been set back), and the key is unchanged.
   */
  private stillValid(entry: VerifiedToken, nowSeconds: number): boolean {
    if (entry.claims.exp <= nowSeconds - this.leewaySeconds) return false;
    if (entry.nbf !== undefined && entry.nbf > nowSeconds + this.leewaySeconds) return false;
    if (entry.claims.iat > nowSeconds + this.leewaySeconds) return false;
    return this.keys.lookup(entry.kid) === entry.key;
  }

  private remember(key: string, entry: VerifiedToken): void {
    if (this.verified.size >= VERIFIED_CACHE_SIZE) {
      // Drop the oldest entry; a full cache under a flood of new tokens only costs hit rate.
      const oldest = this.verified.keys().next();
      if (!oldest.done) this.verified.delete(oldest.value);
    }
    // A different token ending the same way (never seen in practice) simply replaces the entry.
    this.verified.delete(key);
    this.verified.set(key, entry);
  }

  private async resolveKey(header: JWTHeaderParameters): Promise<VerificationKey> {
    if (typeof header.kid !== 'string' || header.kid.length > 256) throw new InvalidTokenError('missing kid');
    const key = this.keys.lookup(header.kid) ?? (await this.keys.lookupFresh(header.kid));
    if (!key) throw new InvalidTokenError('unknown kid');
    if (key.alg !== header.alg) throw new InvalidTokenError('alg does not match key');
    return key;
  }
}

function checkClaims(payload: JWTPayload): AccessTokenClaims {
  const { sid, roles, email_verified: emailVerified, amr, auth_time: authTime } = payload;
  if (typeof sid !== 'string' || typeof payload.jti !== 'string') throw new InvalidTokenError('bad claims');
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) throw new InvalidTokenError('bad roles');
  if (amr !== undefined && (!Array.isArray(amr) || !amr.every((m) => typeof m === 'string'))) throw new InvalidTokenError('bad amr');
  if (authTime !== undefined && typeof authTime !== 'number') throw new InvalidTokenError('bad auth_time');
  const claims: AccessTokenClaims = {
    iss: payload.iss!,
    aud: typeof payload.aud === 'string' ? payload.aud : payload.aud![0]!,
    sub: payload.sub!,
    sid,
    jti: payload.jti,
    iat: payload.iat!,
    exp: payload.exp!,
    roles: Object.freeze([...(roles as string[])]) as string[],
    email_verified: emailVerified === true,
  };
  if (amr !== undefined) claims.amr = Object.freeze([...(amr as string[])]);
  if (authTime !== undefined) claims.auth_time = authTime;
  // Frozen: the same object is handed to every request that presents this token.
  return Object.freeze(claims);
}
