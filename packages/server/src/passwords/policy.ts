import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FieldError } from '../errors.js';
import { fieldLabel } from '../lib/field-label.js';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;

let common: Set<string> | undefined;

/** The shipped list of common passwords (data/common-passwords.txt), loaded on first use. */
export function commonPasswords(): Set<string> {
  if (!common) {
    const file = fileURLToPath(new URL('../../data/common-passwords.txt', import.meta.url));
    common = new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean));
  }
  return common;
}

/** Counts user-perceived characters' code points, so an emoji is one character, not two. */
function length(password: string): number {
  let n = 0;
  for (const _ of password) n++;
  return n;
}

/**
 * Checks a new password against the policy of NIST SP 800-63B / OWASP ASVS: 8 to 256
 * characters, no composition rules, not one of the most common passwords.
 * Returns the field error (a sentence naming the field: "Password must be at least 8
 * characters."), or null when the password is acceptable.
 */
export function checkPasswordPolicy(field: string, password: string): FieldError | null {
  const len = length(password);
  const label = fieldLabel(field);
  if (len < PASSWORD_MIN_LENGTH) return { field, message: `${label} must be at least ${PASSWORD_MIN_LENGTH} characters.` };
  if (len > PASSWORD_MAX_LENGTH) return { field, message: `${label} must be at most ${PASSWORD_MAX_LENGTH} characters.` };
  if (commonPasswords().has(password.toLowerCase())) {
    return { field, message: `${label} is one of the most common passwords; choose one that is harder to guess.` };
  }
  return null;
}
