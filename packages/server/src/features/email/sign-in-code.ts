/**
 * The 6-digit code of a sign-in mail, and how it is kept: HMAC-SHA256 over the challenge's id and
 * the code, under a key derived (HKDF-SHA256) from KEY_ENCRYPTION_KEY. A million codes are
 * nothing to try offline, so a plain hash would give a database copy every live code at once;
 * keyed with a secret the database does not hold, the copy is useless without the key. Without
 * KEY_ENCRYPTION_KEY the key is a fixed label and the hash is a salted SHA-256 (the challenge id
 * is the salt); such a deployment stores its signing keys in plaintext anyway, so a database copy
 * already lets its holder sign tokens. A code made before KEY_ENCRYPTION_KEY
 * changed no longer matches; its link still works, and a new mail is one request away.
 */
import { createHmac, hkdfSync, randomInt, timingSafeEqual } from 'node:crypto';

/** The digits a code has: six, as every authenticator app and sign-in mail people know. */
export const SIGN_IN_CODE_DIGITS = 6;

const KEY_INFO = 'latchkey email sign-in code';
const UNKEYED = Buffer.from(KEY_INFO);
/** Derived once per key: the HKDF is cheap, but the same key is asked for at every verification. */
const derived = new WeakMap<Uint8Array, Buffer>();

function codeKey(keyEncryptionKey: Uint8Array | null): Buffer {
  if (keyEncryptionKey === null) return UNKEYED;
  let key = derived.get(keyEncryptionKey);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', keyEncryptionKey, new Uint8Array(0), KEY_INFO, 32));
    derived.set(keyEncryptionKey, key);
  }
  return key;
}

/**
 * A new code: 6 uniformly random digits (leading zeros kept).
 *
 * @example
 * newSignInCode(); // '042917'
 */
export function newSignInCode(): string {
  return String(randomInt(0, 10 ** SIGN_IN_CODE_DIGITS)).padStart(SIGN_IN_CODE_DIGITS, '0');
}

/**
 * The code as typed, without the spaces and dashes people put in it; null when it is not 6 digits.
 *
 * @example
 * normaliseSignInCode(' 042 917 '); // '042917'
 */
export function normaliseSignInCode(input: string): string | null {
  const code = input.replace(/[\s-]/g, '');
  return /^[0-9]{6}$/.test(code) ? code : null;
}

/**
 * The stored form of a challenge's code (hex).
 *
 * @example
 * const codeHash = hashSignInCode(ctx.config.tokens.keyEncryptionKey, challengeId, code);
 */
export function hashSignInCode(keyEncryptionKey: Uint8Array | null, challengeId: string, code: string): string {
  return createHmac('sha256', codeKey(keyEncryptionKey)).update(challengeId).update('\0').update(code).digest('hex');
}

/** Whether `code` is the challenge's, compared in constant time (the stored hash is not a secret worth leaking bit by bit either). */
export function signInCodeMatches(keyEncryptionKey: Uint8Array | null, challengeId: string, codeHash: string, code: string): boolean {
  const expected = Buffer.from(codeHash, 'hex');
  const actual = Buffer.from(hashSignInCode(keyEncryptionKey, challengeId, code), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
