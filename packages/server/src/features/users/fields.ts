/**
 * The rules of a user's fields, in one place: what register, the admin API, the CLI and the
 * importer all apply. (The route schemas' `format: email` is the same rule, for the OpenAPI
 * document: ajv-formats' full `email` format.)
 */
import { fullFormats } from 'ajv-formats/dist/formats.js';

/** The role that opens the admin routes; the server always keeps one enabled holder of it. */
export const ADMIN_ROLE = 'admin';

/** Roles set through the admin API: lower-case letters, digits, `_`, `-`, `:` and `.`, 1..64 long. */
export const ROLE_PATTERN = '^[a-z0-9][a-z0-9_.:-]{0,63}$';

export const MAX_EMAIL_LENGTH = 254;
export const MAX_NAME_LENGTH = 200;

const EMAIL_FORMAT = fullFormats.email as RegExp;

/**
 * Emails are compared and stored trimmed and lower-cased: one account per address.
 *
 * @example
 * normaliseEmail(' Ann@Example.COM ') // 'ann@example.com'
 */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * True for an address the server accepts (after `normaliseEmail`): ajv-formats' full `email`
 * format, as the route schemas check it, and at most 254 characters.
 *
 * @example
 * isValidEmail(normaliseEmail(input)) // false for 'ann@example'
 */
export function isValidEmail(email: string): boolean {
  return email.length <= MAX_EMAIL_LENGTH && EMAIL_FORMAT.test(email);
}

/**
 * A display name as stored: trimmed, and null when nothing is left.
 *
 * @example
 * normaliseName('  Ann ') // 'Ann'; normaliseName('  ') // null
 */
export function normaliseName(name: string | null | undefined): string | null {
  return name?.trim() || null;
}

/** A locale tag as stored: BCP 47 allows up to 35 characters for the tags one would use (RFC 5646 §4.4.1). */
export const MAX_LOCALE_LENGTH = 35;

/**
 * A locale as stored: a well-formed BCP 47 tag (checked by `Intl.getCanonicalLocales`, which
 * refuses malformed ones), lower-cased so that `de-AT` and `de-at` are one value; null for
 * null or blank. Returns undefined for a malformed tag (the caller answers VALIDATION_FAILED).
 *
 * @example
 * normaliseLocale('de-AT') // 'de-at'; normaliseLocale('not a tag') // undefined
 */
export function normaliseLocale(locale: string | null | undefined): string | null | undefined {
  const tag = locale?.trim();
  if (!tag) return null;
  // Letters, digits and hyphens only: getCanonicalLocales also takes `_` variants we do not want stored.
  if (tag.length > MAX_LOCALE_LENGTH || !/^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/.test(tag)) return undefined;
  try {
    Intl.getCanonicalLocales(tag);
  } catch {
    return undefined;
  }
  return tag.toLowerCase();
}
