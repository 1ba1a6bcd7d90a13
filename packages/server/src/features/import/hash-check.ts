/**
 * Which stored password hashes an import accepts. Only formats the login path verifies are
 * stored; everything else is refused per row with a reason, so that nothing is ever stored that
 * could match a password by accident (a plaintext or a fast unsalted digest). Reasons name the
 * scheme at most, never the hash.
 */

/** bcrypt in modular crypt format; $2x$ (crypt_blowfish's bug-compatible variant) is not accepted. */
const BCRYPT = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
/** PHC argon2 as argon2-cffi, passlib and pwdlib write it; the version field is optional (v1.0). */
const ARGON2 = /^\$argon2(?:id|i|d)\$(?:v=\d{1,3}\$)?m=\d{1,10},t=\d{1,10},p=\d{1,3}\$[A-Za-z0-9+/]{11,}={0,2}\$[A-Za-z0-9+/]{16,}={0,2}$/;
const HEX_DIGEST = /^[0-9a-f]{32}$|^[0-9a-f]{40}$|^[0-9a-f]{64}$|^[0-9a-f]{128}$/i;

export type HashCheck = { ok: true; hash: string; family: 'bcrypt' | 'argon2' } | { ok: false; reason: string };

export function checkImportHash(raw: unknown): HashCheck {
  if (raw === undefined || raw === null || raw === '') return { ok: false, reason: 'no password hash' };
  if (typeof raw !== 'string') return { ok: false, reason: 'the password hash is not text' };
  const hash = raw.trim();
  const bcrypt = BCRYPT.exec(hash);
  if (bcrypt) {
    const cost = Number(bcrypt[1]);
    if (cost < 4 || cost > 31) return { ok: false, reason: `bcrypt cost ${cost} is outside 4..31` };
    return { ok: true, hash, family: 'bcrypt' };
  }
  if (ARGON2.test(hash)) return { ok: true, hash, family: 'argon2' };
  if (/^\$argon2/.test(hash)) return { ok: false, reason: 'malformed argon2 hash (expected the PHC string format)' };
  if (/^\$2x\$/.test(hash)) return { ok: false, reason: 'bcrypt variant $2x$ is not supported' };
  if (/^\$2[aby]?\$/.test(hash)) return { ok: false, reason: 'malformed bcrypt hash' };
  const scheme = /^\$([A-Za-z0-9-]{1,24})\$/.exec(hash) ?? /^([a-z0-9_]{2,24})\$/.exec(hash);
  if (scheme) {
    return {
      ok: false,
      reason: `unsupported hash scheme "${scheme[1]}" (supported: bcrypt $2a$/$2b$/$2y$ and argon2 PHC strings)`,
    };
  }
  if (HEX_DIGEST.test(hash)) return { ok: false, reason: 'an unsalted hex digest (MD5/SHA) cannot be imported' };
  return { ok: false, reason: 'not a recognised password hash (plaintext or an unknown format); refused' };
}
