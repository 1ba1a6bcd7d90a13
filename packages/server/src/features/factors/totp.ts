/**
 * TOTP (RFC 6238) as authenticator apps speak it: HMAC-SHA-1, 6 digits, 30-second steps, a
 * 160-bit secret (RFC 4226 4, R6), and codes of the previous, current and next step accepted
 * (RFC 6238 5.2: one step of clock drift either way). The algorithm is the `otpauth` library's
 * (its comparison is constant-time; about 30 µs per check of three steps, measured: node's
 * HMAC plugged in instead was no faster). The QR code is `uqr`'s SVG.
 */
import { Secret, TOTP } from 'otpauth';
import { renderSVG } from 'uqr';

const PERIOD_SECONDS = 30;
const DIGITS = 6;
/** Steps accepted either side of the current one. */
const WINDOW = 1;
const SECRET_BYTES = 20;

function totpOf(secretBase32: string, label = '', issuer = ''): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: 'SHA1',
    digits: DIGITS,
    period: PERIOD_SECONDS,
    secret: Secret.fromBase32(secretBase32),
  });
}

/** A new random secret, base32 (32 characters for 160 bits), as authenticator apps take it. */
export function newTotpSecret(): string {
  return new Secret({ size: SECRET_BYTES }).base32;
}

/** The RFC 6238 time step T of an epoch-ms instant. */
export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / PERIOD_SECONDS);
}

/**
 * The time step whose code `code` is, among the current step and one either side; null when it
 * is none of them. Replay protection is the caller's: a step at or before the last one used
 * must be refused.
 *
 * @example
 * const step = matchTotpStep(secret, '123456', ctx.clock());
 */
export function matchTotpStep(secretBase32: string, code: string, nowMs: number): number | null {
  const delta = totpOf(secretBase32).validate({ token: code, timestamp: nowMs, window: WINDOW });
  return delta === null ? null : totpStep(nowMs) + delta;
}

/** The code of a secret at an instant (tests, and the CLI of a future admin tool). */
export function totpCode(secretBase32: string, nowMs: number): string {
  return totpOf(secretBase32).generate({ timestamp: nowMs });
}

/**
 * The `otpauth://totp/...` URI an authenticator app reads from the QR code (Key Uri Format):
 * the issuer (PRODUCT_NAME) and the account's email as label.
 */
export function otpauthUri(secretBase32: string, accountLabel: string, issuer: string): string {
  return totpOf(secretBase32, accountLabel, issuer).toString();
}

/** The QR code of `text` as an SVG `data:` URL, ready for an `<img src>`. */
export function qrCodeDataUrl(text: string): string {
  const svg = renderSVG(text, { ecc: 'M', border: 2 });
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
}
