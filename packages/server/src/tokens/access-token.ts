import { errors as joseErrors, jwtVerify, SignJWT, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { KeyRing } from './keys.js';

/** The claims Latchkey puts in every access token (RFC 9068 profile, plus roles). */
export interface AccessTokenClaims {
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
}

/** Why a token was refused; logged at debug level, never sent to the client beyond a generic text. */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

/** Access tokens longer than this are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192;

const ASYMMETRIC_ALGS = ['RS256', 'ES256', 'EdDSA'];

/**
 * Issues and verifies access tokens. Verification follows RFC 8725: the algorithm allow-list is
 * fixed at construction and each key is bound to one algorithm; `kid` is only a map key; the
 * `jwk`, `jku`, `x5u` and `x5c` headers are never used to find a key; `exp` is required; `iss`,
 * `aud` and `typ` must match exactly.
 */
export class AccessTokens {
  private readonly allowedAlgorithms: string[];
  private readonly ttlSeconds: number;
  private readonly leewaySeconds: number;

  constructor(
    private readonly config: Config,
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
    const iat = Math.floor(this.clock() / 1000);
    return new SignJWT({ sid: subject.sessionId, roles: subject.roles, email_verified: subject.emailVerified })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(this.config.issuer)
      .setAudience(this.config.audience)
      .setSubject(subject.userId)
      .setJti(randomUUID())
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.ttlSeconds)
      .sign(key.key);
  }

  /** Verifies a compact JWS access token; throws InvalidTokenError on any failure. */
  async verify(token: string): Promise<AccessTokenClaims> {
    if (token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError('token too long');
    try {
      const { payload } = await jwtVerify(token, (header) => this.resolveKey(header), {
        algorithms: this.allowedAlgorithms,
        issuer: this.config.issuer,
        audience: this.config.audience,
        typ: 'at+jwt',
        clockTolerance: this.leewaySeconds,
        currentDate: new Date(this.clock()),
        requiredClaims: ['exp', 'iat', 'sub', 'sid', 'jti'],
      });
      return checkClaims(payload);
    } catch (err) {
      if (err instanceof InvalidTokenError) throw err;
      if (err instanceof joseErrors.JOSEError) throw new InvalidTokenError(err.code);
      throw new InvalidTokenError('malformed');
    }
  }

  private async resolveKey(header: JWTHeaderParameters) {
    if (typeof header.kid !== 'string' || header.kid.length > 256) throw new InvalidTokenError('missing kid');
    const key = this.keys.lookup(header.kid) ?? (await this.keys.lookupFresh(header.kid));
    if (!key) throw new InvalidTokenError('unknown kid');
    if (key.alg !== header.alg) throw new InvalidTokenError('alg does not match key');
    return key.key;
  }
}

function checkClaims(payload: JWTPayload): AccessTokenClaims {
  const { sid, roles, email_verified: emailVerified } = payload;
  if (typeof sid !== 'string' || typeof payload.jti !== 'string') throw new InvalidTokenError('bad claims');
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) throw new InvalidTokenError('bad roles');
  return {
    iss: payload.iss!,
    aud: typeof payload.aud === 'string' ? payload.aud : payload.aud![0]!,
    sub: payload.sub!,
    sid,
    jti: payload.jti,
    iat: payload.iat!,
    exp: payload.exp!,
    roles: roles as string[],
    email_verified: emailVerified === true,
  };
}
