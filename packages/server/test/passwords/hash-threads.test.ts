import { hash as argon2Hash } from '@node-rs/argon2';
import { afterAll, describe, expect, it } from 'vitest';
import { HASH_THREAD_NICE, HashThreads } from '../../src/passwords/hash-threads.js';
import { niceByThread } from '../support/threads.js';

// Password hashing runs on worker threads at a lower CPU priority than the event loop, so that a
// login flood does not delay other requests (bench scenario (e)).

const PARAMS = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

describe('hashing threads', () => {
  const threads = new HashThreads(2);
  afterAll(async () => {
    await threads.close();
  });

  it('hash and verify round-trip; a wrong password and a malformed hash do not verify', async () => {
    const stored = (await threads.run({ op: 'argon2-hash', password: 'a long passphrase 1', ...PARAMS })) as string;
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await threads.run({ op: 'argon2-verify', stored, password: 'a long passphrase 1' })).toBe(true);
    expect(await threads.run({ op: 'argon2-verify', stored, password: 'a long passphrase 2' })).toBe(false);
    // A hash made elsewhere (libuv's pool) verifies too.
    const other = await argon2Hash('another passphrase', { algorithm: 2, ...PARAMS });
    expect(await threads.run({ op: 'argon2-verify', stored: other, password: 'another passphrase' })).toBe(true);
    await expect(threads.run({ op: 'argon2-verify', stored: '$argon2id$garbage', password: 'x' })).rejects.toThrow();
  });

  it.runIf(process.platform === 'linux')('runs the work on threads niced below the event loop, which keeps its priority', async () => {
    const stored = await argon2Hash('pw', { algorithm: 2, ...PARAMS });
    await Promise.all([
      threads.run({ op: 'argon2-verify', stored, password: 'pw' }),
      threads.run({ op: 'argon2-verify', stored, password: 'pw' }),
    ]);
    const after = niceByThread();
    // Both hashing threads are niced; the event loop's thread (tid = pid) is not.
    expect([...after.values()].filter((nice) => nice === HASH_THREAD_NICE).length).toBeGreaterThanOrEqual(2);
    expect(after.get(process.pid)).toBe(0);
  });

  it('queues jobs beyond its threads and answers each one with its own result', async () => {
    const stored = await argon2Hash('pw', { algorithm: 2, ...PARAMS });
    const single = new HashThreads(1);
    const results = await Promise.all(
      ['pw', 'nope', 'pw', 'nope', 'pw'].map((password) => single.run({ op: 'argon2-verify', stored, password })),
    );
    expect(results).toEqual([true, false, true, false, true]);
    await single.close();
  });

  it('refuses work once closed', async () => {
    const closing = new HashThreads(1);
    await closing.close();
    await expect(closing.run({ op: 'argon2-verify', stored: 'x', password: 'y' })).rejects.toThrow('closed');
  });
});
