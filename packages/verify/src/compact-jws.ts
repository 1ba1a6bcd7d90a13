/**
 * Is `token` a compact JWS whose three segments are canonical base64url (RFC 7515 section 2:
 * the URL-safe alphabet, no padding, no whitespace, and the unused low bits of a final partial
 * group zero)?
 *
 * Why before jose: jose decodes with atob on Node 20 (and `Uint8Array.fromBase64` in "loose" mode
 * where it exists), which strips ASCII whitespace and padding and ignores the unused bits. The
 * signature segment is not covered by the signature, so one signed token then has many accepted
 * spellings (the last character of an RS256 signature alone has 16), each a different string:
 * a different cache entry, a different revocation-list key for whoever keys tokens by string.
 * One spelling per token closes that.
 *
 * Cost: one compiled regular-expression scan and three character look-ups, about 0.6 us for a
 * 700-character RS256 token, against about 100 us for the signature check it precedes; and on
 * that path only: a cache hit (`peek`) is a string equal to a token that already passed this.
 *
 * The same rule as the server's (packages/server/src/tokens/compact-jws.ts), kept in step by
 * hand: this package does not depend on the server.
 *
 * @example
 * isCanonicalCompactJws('eyJhbGciOiJSUzI1NiJ9.e30.c2k'); // true
 * isCanonicalCompactJws('eyJhbGciOiJSUzI1NiJ9.e30.c2l'); // false: same bytes, but 'l' has an unused bit set
 * isCanonicalCompactJws('eyJhbGciOiJSUzI1NiJ9.e30.c2k='); // false: padding
 */
export function isCanonicalCompactJws(token: string): boolean {
  if (!COMPACT_SHAPE.test(token)) return false;
  const firstDot = token.indexOf('.');
  const secondDot = token.indexOf('.', firstDot + 1);
  return canonicalEnd(token, 0, firstDot) && canonicalEnd(token, firstDot + 1, secondDot) && canonicalEnd(token, secondDot + 1, token.length);
}

/** Three runs of the base64url alphabet separated by exactly two dots; nothing else. */
const COMPACT_SHAPE = /^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/**
 * The segment `token[start, end)` ends canonically: its length is not 1 mod 4 (no whole byte
 * fits in 6 bits), and the unused low bits of its last character are zero (4 of them after 2
 * characters of a group, 2 after 3).
 */
function canonicalEnd(token: string, start: number, end: number): boolean {
  switch ((end - start) & 3) {
    case 0:
      return true;
    case 1:
      return false;
    case 2:
      return (sextet(token.charCodeAt(end - 1)) & 0b1111) === 0;
    default:
      return (sextet(token.charCodeAt(end - 1)) & 0b11) === 0;
  }
}

/** The 6-bit value of a base64url character (already known to be one). */
function sextet(code: number): number {
  if (code >= 97) return code - 71; // a-z: 26..51
  if (code >= 65) return code === 95 ? 63 : code - 65; // A-Z: 0..25, '_' (95): 63
  if (code >= 48) return code + 4; // 0-9: 52..61
  return 62; // '-'
}
