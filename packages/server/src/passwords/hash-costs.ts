/**
 * The costs of a stored password hash that Latchkey accepts, in one place. `users import`
 * refuses a hash outside them (per row, with the reason), a login never verifies one (it spends
 * the ordinary dummy verification instead, see PasswordHasher.verify), and the ARGON2_* settings
 * cannot go past the same caps, so that Latchkey's own hashes always pass.
 *
 * Why these numbers:
 * - The caps bound what one login can cost. bcrypt cost 14 is ~1 s on one core (cost 31 would be
 *   days: one such account pins a hashing thread for good); argon2 beyond 1 GiB or 10 passes
 *   costs seconds and the memory of several default hashes at once.
 * - The floors are the weakest values any mainstream library shipped by default: bcrypt's own
 *   minimum cost 4, and argon2 m=512 KiB, t=1 (passlib 1.7 and argon2-cffi before 18.2 used
 *   m=512, t=2, p=2). Below them a hash is refused: it protects next to nothing.
 * - Between the floor and DESIGN.md's minimum (bcrypt cost 10; argon2 the work of m=19 MiB × t=2)
 *   a hash is "weak": it verifies, and the first successful login replaces it with argon2id, as
 *   every legacy hash. A weak hash verifies faster than the dummy hash, so a login against one
 *   also spends the dummy verification: its timing does not single the account out.
 */
export const HASH_COST_LIMITS = Object.freeze({
  bcrypt: Object.freeze({ minCost: 4, weakBelowCost: 10, maxCost: 14 }),
  argon2: Object.freeze({
    minMemoryKib: 512,
    maxMemoryKib: 1_048_576,
    minTimeCost: 1,
    maxTimeCost: 10,
    /** m × t of DESIGN.md's minimum (19 MiB, 2 passes): less work than this is weak. */
    weakBelowWork: 19_456 * 2,
  }),
});

export type HashCost =
  | { status: 'ok' | 'weak'; family: 'bcrypt' | 'argon2' }
  /**
   * Never verified: outside the limits (`cost`) or not a well-formed bcrypt or argon2 string
   * (`malformed`). `reason` names the scheme and its parameters at most, never the hash.
   */
  | { status: 'refused'; kind: 'cost' | 'malformed'; reason: string };

/** bcrypt in modular crypt format, the cost captured. */
const BCRYPT = /^\$2[abxy]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
/**
 * A PHC argon2 string as argon2-cffi, passlib, pwdlib and Latchkey write it (the version field
 * optional), m, t and p captured: a malformed one is refused before any hashing thread sees it.
 */
const ARGON2 = /^\$argon2(?:id|i|d)\$(?:v=\d{1,3}\$)?m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$[A-Za-z0-9+/]{11,}={0,2}\$[A-Za-z0-9+/]{16,}={0,2}$/;

/**
 * Where a stored hash stands against HASH_COST_LIMITS. Only the parameters are read (no
 * hashing), so it is cheap enough to run before every verification.
 *
 * @example
 * assessHashCost('$2b$15$...'); // { status: 'refused', kind: 'cost', reason: 'bcrypt cost 15 is above the cap of 14' }
 */
export function assessHashCost(stored: string): HashCost {
  const bcrypt = BCRYPT.exec(stored);
  if (bcrypt) {
    const cost = Number(bcrypt[1]);
    const { minCost, weakBelowCost, maxCost } = HASH_COST_LIMITS.bcrypt;
    if (cost > maxCost) return { status: 'refused', kind: 'cost', reason: `bcrypt cost ${cost} is above the cap of ${maxCost}` };
    if (cost < minCost) return { status: 'refused', kind: 'cost', reason: `bcrypt cost ${cost} is below the minimum of ${minCost}` };
    return { status: cost < weakBelowCost ? 'weak' : 'ok', family: 'bcrypt' };
  }
  const argon2 = ARGON2.exec(stored);
  if (argon2) {
    const [m, t, p] = [Number(argon2[1]), Number(argon2[2]), Number(argon2[3])];
    const a = HASH_COST_LIMITS.argon2;
    if (m > a.maxMemoryKib) return { status: 'refused', kind: 'cost', reason: `argon2 memory m=${m} KiB is above the cap of ${a.maxMemoryKib} KiB (1 GiB)` };
    if (t > a.maxTimeCost) return { status: 'refused', kind: 'cost', reason: `argon2 time cost t=${t} is above the cap of ${a.maxTimeCost}` };
    if (m < a.minMemoryKib) return { status: 'refused', kind: 'cost', reason: `argon2 memory m=${m} KiB is below the minimum of ${a.minMemoryKib} KiB` };
    if (t < a.minTimeCost) return { status: 'refused', kind: 'cost', reason: `argon2 time cost t=${t} is below the minimum of ${a.minTimeCost}` };
    if (p < 1 || m < 8 * p) return { status: 'refused', kind: 'malformed', reason: `argon2 parameters m=${m}, p=${p} are invalid (m must be at least 8 × p)` };
    return { status: m * t < a.weakBelowWork ? 'weak' : 'ok', family: 'argon2' };
  }
  return { status: 'refused', kind: 'malformed', reason: 'not a well-formed bcrypt or argon2 hash' };
}
