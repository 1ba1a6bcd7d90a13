/**
 * Which stored password hashes an import accepts. Only formats the login path verifies are
 * stored; everything else is refused per row with a reason, so that nothing is ever stored that
 * could match a password by accident (a plaintext or a fast unsalted digest). Reasons name the
 * scheme at most, never the hash.
 */

import { assessHashCost } from '../../passwords/hash-costs.js';
import { FEDERATED_ONLY_HASH, hasNoPassword } from '../../passwords/no-password.js';

const HEX_DIGEST = /^[0-9a-f]{32}$|^[0-9a-f]{40}$|^[0-9a-f]{64}$|^[0-9a-f]{128}$/i;

/** `weak`: accepted, but below DESIGN.md's minimum; re-hashed at the user's next login like every legacy hash. */
export type HashCheck = { ok: true; hash: string; family: 'bcrypt' | 'argon2'; weak: boolean } | { ok: false; reason: string };

export function checkImportHash(raw: unknown): HashCheck {
  if (raw === undefined || raw === null || raw === '') return { ok: false, reason: 'no password hash' };
  if (typeof raw !== 'string') return { ok: false, reason: 'the password hash is not text' };
  const hash = raw.trim();
  // An export of an invited user who has not accepted yet: it carries no password to import.
  if (hash === FEDERATED_ONLY_HASH) {
    return { ok: false, reason: 'no password (the account signs in with a social provider or by email); create it by signing in again, or let the user reset a password' };
  }
  if (hasNoPassword(hash)) return { ok: false, reason: 'no password yet (an invitation not accepted); invite the user again instead' };
  // $2x$ (crypt_blowfish's bug-compatible variant) is not accepted, although a login would verify it.
  if (/^\$2x\$/.test(hash)) return { ok: false, reason: 'bcrypt variant $2x$ is not supported' };
  const family = /^\$2[aby]\$/.test(hash) ? 'bcrypt' : /^\$argon2(?:id|i|d)\$/.test(hash) ? 'argon2' : null;
  if (family) {
    // The same limits a login applies (passwords/hash-costs.ts): what is refused here would never verify.
    const cost = assessHashCost(hash);
    if (cost.status !== 'refused') return { ok: true, hash, family, weak: cost.status === 'weak' };
    if (cost.kind === 'cost') return { ok: false, reason: `${cost.reason}; refused, the user needs a password reset` };
  }
  if (/^\$argon2/.test(hash)) return { ok: false, reason: 'malformed argon2 hash (expected the PHC string format)' };
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
