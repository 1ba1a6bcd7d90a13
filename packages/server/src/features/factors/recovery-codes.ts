/**
 * Recovery codes: one-time codes for the day the authenticator is lost. Each is 80 random bits
 * written as 16 Crockford base32 characters in four groups (`7K2M-9QXD-...`), shown once and
 * stored only as a hash.
 *
 * Why SHA-256 and not argon2: a code carries 80 bits of entropy, so a guess against a stolen
 * hash is 2^79 SHA-256 computations on average, out of reach, and no slow hash is needed (the
 * reason passwords need one is their low entropy). A slow hash with a salt would also force the
 * server to try all ten stored hashes on every attempt (ten argon2 runs, a denial-of-service
 * lever); the deterministic hash is one index lookup, and spending it is one conditional UPDATE.
 * The user id is hashed in, so equal codes of two users (never expected) have different hashes
 * and a hash copied onto another user's row does not work there.
 */
import { createHash, randomBytes } from 'node:crypto';

/** How many codes a set has. */
export const RECOVERY_CODE_COUNT = 10;

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_BYTES = 10;
/** 16 characters, after normalisation. */
const CODE_SHAPE = /^[0-9A-HJKMNP-TV-Z]{16}$/;

/** One new code, e.g. `7K2M-9QXD-0B4R-WZ6H`. */
function newRecoveryCode(): string {
  const bytes = randomBytes(CODE_BYTES);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(value >>> bits) & 31];
    }
    value &= (1 << bits) - 1;
  }
  return out.match(/.{4}/g)!.join('-');
}

/** A new set of RECOVERY_CODE_COUNT codes. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
}

/**
 * A code as typed by a person, in its canonical form: case, spaces and dashes do not matter,
 * and the letters Crockford base32 reads as digits (O as 0, I and L as 1) are read so. Null when
 * it cannot be one of our codes.
 */
export function normaliseRecoveryCode(input: string): string | null {
  const code = input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return CODE_SHAPE.test(code) ? code : null;
}

/** The stored hash of a (normalised) code of this user. */
export function hashRecoveryCode(userId: string, normalisedCode: string): string {
  return createHash('sha256').update('latchkey recovery code\0').update(userId).update('\0').update(normalisedCode).digest('hex');
}
