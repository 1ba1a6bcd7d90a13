/**
 * The marker of an account without a password (an invitation not accepted): nothing verifies
 * against it, at the cost of exactly one verification (as a wrong password), and the importer
 * never stores it, so neither a login nor `users import` can turn it into a way in.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { checkImportHash } from '../../src/features/user-transfer/hash-check.js';
import { PasswordHasher } from '../../src/passwords/hasher.js';
import { FEDERATED_ONLY_HASH, hasNoPassword, NO_PASSWORD_HASH } from '../../src/passwords/no-password.js';

const hasher = new PasswordHasher({ memoryKib: 19_456, timeCost: 2, parallelism: 1 }, 1, 10);
afterAll(() => hasher.close());

describe('NO_PASSWORD_HASH', () => {
  it('never verifies, whatever is tried (itself included), and costs one verification each time', async () => {
    await hasher.prepare();
    for (const marker of [NO_PASSWORD_HASH, FEDERATED_ONLY_HASH]) {
      for (const attempt of ['', 'correct horse battery staple', marker, '!', 'no-password', 'federated']) {
        const before = hasher.queue.started;
        expect(await hasher.verify(marker, attempt)).toEqual({ ok: false, needsRehash: false });
        expect(hasher.queue.started - before, attempt).toBe(1);
      }
    }
  });

  it('is refused by the importer with its own reason; a real hash is not mistaken for it', () => {
    expect(checkImportHash(NO_PASSWORD_HASH)).toEqual({ ok: false, reason: expect.stringContaining('invitation not accepted') });
    expect(checkImportHash(` ${NO_PASSWORD_HASH} `)).toMatchObject({ ok: false });
    expect(hasNoPassword(NO_PASSWORD_HASH)).toBe(true);
    // An account from a social sign-in: no password either, refused with its own reason.
    expect(checkImportHash(FEDERATED_ONLY_HASH)).toEqual({ ok: false, reason: expect.stringContaining('social provider') });
    expect(hasNoPassword(FEDERATED_ONLY_HASH)).toBe(true);
    expect(hasNoPassword('$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo')).toBe(false);
  });
});
