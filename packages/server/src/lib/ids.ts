import { createHash, randomBytes, randomUUID } from 'node:crypto';

/** A new random identifier (UUID v4) for users, sessions and events. */
export function newId(): string {
  return randomUUID();
}

/** An opaque secret token: 32 random bytes (256 bits), base64url. */
export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * SHA-256 (hex) of an opaque token. Tokens are stored only as this hash: they carry 256 bits
 * of entropy, so a fast hash is enough and lookups stay an index hit.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
