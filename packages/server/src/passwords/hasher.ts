import { hash as argon2Hash, parseOptions } from '@node-rs/argon2';
import type { PasswordsConfig } from '../config.js';
import { WorkQueue } from '../lib/work-queue.js';
import { assessHashCost } from './hash-costs.js';
import { HashThreads } from './hash-threads.js';

export interface Argon2Params {
  memoryKib: number;
  timeCost: number;
  parallelism: number;
}

/** @node-rs/argon2's `Algorithm.Argon2id` (a const enum, which isolated modules cannot import). */
const ARGON2ID = 2;
/** @node-rs/argon2's `Version.V0x13` (v=19), as `parseOptions` reports it. */
const ARGON2_VERSION_19 = 1;

const BCRYPT = /^\$2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}$/;
const ARGON2 = /^\$argon2(id|i|d)\$/;

/** Which family a stored hash belongs to; `unknown` hashes never verify. */
export function hashFamily(stored: string): 'argon2' | 'bcrypt' | 'unknown' {
  if (ARGON2.test(stored)) return 'argon2';
  if (BCRYPT.test(stored)) return 'bcrypt';
  return 'unknown';
}

export interface VerifyResult {
  ok: boolean;
  /** The hash is legacy (bcrypt, argon2i/d) or weaker than the configured argon2id: re-hash it. */
  needsRehash: boolean;
  /**
   * Set when the stored hash was not verified at all because it is outside HASH_COST_LIMITS (or
   * not a hash): why, naming the scheme and parameters at most. The user needs a password reset.
   */
  unusable?: string;
}

/**
 * Password hashing with argon2id. Hashing and verification run on `concurrency` worker threads
 * at a lower CPU priority than the event loop (never on the event loop; see hash-threads.ts),
 * through a bounded queue: at most `concurrency` at once and at most `maxWaiting` waiting; past
 * that `QueueFullError` is thrown and the caller sheds load.
 */
export class PasswordHasher {
  readonly queue: WorkQueue;
  private readonly threads: HashThreads;
  private dummyHash: Promise<string> | undefined;
  /** How every hash of the configured profile begins: such a hash needs no re-hash. */
  private readonly currentPrefix: string;

  constructor(
    private readonly params: Argon2Params,
    concurrency: number,
    maxWaiting: number,
  ) {
    this.queue = new WorkQueue(concurrency, maxWaiting);
    this.threads = new HashThreads(concurrency);
    this.currentPrefix = `$argon2id$v=19$m=${params.memoryKib},t=${params.timeCost},p=${params.parallelism}$`;
  }

  hash(password: string): Promise<string> {
    return this.queue.run(
      async () =>
        (await this.threads.run({
          op: 'argon2-hash',
          password,
          memoryCost: this.params.memoryKib,
          timeCost: this.params.timeCost,
          parallelism: this.params.parallelism,
        })) as string,
    );
  }

  /** Stops the hashing threads (they also never keep an idle process alive). */
  close(): Promise<void> {
    return this.threads.close();
  }

  /**
   * Verifies against argon2 (any variant, PHC) or bcrypt ($2a$/$2b$/$2y$) within HASH_COST_LIMITS.
   * A stored hash outside them is never computed: the call spends one dummy verification instead
   * and fails, so such an account costs and looks like a wrong password (a bcrypt cost 31 hash
   * would otherwise hold a hashing thread for days). A weak hash (cheaper than the configured
   * argon2id) also spends the dummy verification, so that it does not answer faster.
   */
  async verify(stored: string, password: string): Promise<VerifyResult> {
    const cost = assessHashCost(stored);
    if (cost.status === 'refused') {
      await this.verifyDummy(password);
      return { ok: false, needsRehash: false, unusable: cost.reason };
    }
    const ok = await this.compute(cost.family, stored, password);
    if (cost.status === 'weak') await this.verifyDummy(password);
    return { ok, needsRehash: ok && this.needsRehash(stored) };
  }

  /** One verification on a hashing thread; a malformed stored hash is a failure, never a crash. */
  private compute(family: 'argon2' | 'bcrypt', stored: string, password: string): Promise<boolean> {
    return this.queue.run(async () => {
      try {
        if (family === 'bcrypt') {
          return (await this.threads.run({ op: 'bcrypt-verify', stored: stored.replace(/^\$2y\$/, '$2b$'), password })) === true;
        }
        return (await this.threads.run({ op: 'argon2-verify', stored, password })) === true;
      } catch {
        return false;
      }
    });
  }

  /**
   * Spends the cost of one verification against a throw-away hash, so that an unknown account
   * takes as long to refuse as a wrong password.
   */
  async verifyDummy(password: string): Promise<void> {
    this.dummyHash ??= this.hash('latchkey-timing-equaliser');
    await this.compute('argon2', await this.dummyHash, password);
  }

  /**
   * Computes the throw-away hash ahead of time (called at start-up), so that even the first
   * unknown-email login costs one verification, not a hash plus a verification. It runs on
   * libuv's pool, not on the hashing threads: nothing else is served yet, and a server that
   * never hashes (a read-mostly instance) then never starts those threads or pays their memory.
   */
  async prepare(): Promise<void> {
    this.dummyHash ??= argon2Hash('latchkey-timing-equaliser', {
      algorithm: ARGON2ID,
      memoryCost: this.params.memoryKib,
      timeCost: this.params.timeCost,
      parallelism: this.params.parallelism,
    });
    await this.dummyHash;
  }

  /**
   * True unless the hash is argon2id v=19 with exactly the configured parameters. Every other
   * hash (bcrypt, argon2i/d, version 0x10, or another system's parameters, weaker or stronger)
   * is re-hashed at the next login, so the store converges on one known profile and a change
   * of ARGON2_* takes effect user by user.
   */
  needsRehash(stored: string): boolean {
    // The PHC string of the configured profile, as argon2 writes it: decided without parsing.
    if (stored.startsWith(this.currentPrefix)) return false;
    if (!stored.startsWith('$argon2id$')) return true;
    try {
      const o = parseOptions(stored);
      return (
        o.version !== ARGON2_VERSION_19 ||
        o.memoryCost !== this.params.memoryKib ||
        o.timeCost !== this.params.timeCost ||
        o.parallelism !== this.params.parallelism
      );
    } catch {
      return true;
    }
  }
}

/**
 * The hasher of a configuration's ARGON2_MEMORY / ARGON2_TIME_COST / ARGON2_PARALLELISM: the
 * server's (HASH_CONCURRENCY, HASH_QUEUE_MAX) and the CLI's (one at a time) hash alike.
 *
 * @example
 * const hasher = passwordHasherFor(config.passwords, config.passwords.hashConcurrency, config.passwords.hashQueueMax);
 */
export function passwordHasherFor(
  config: Pick<PasswordsConfig, 'argon2MemoryKib' | 'argon2TimeCost' | 'argon2Parallelism'>,
  concurrency: number,
  maxWaiting: number,
): PasswordHasher {
  return new PasswordHasher(
    { memoryKib: config.argon2MemoryKib, timeCost: config.argon2TimeCost, parallelism: config.argon2Parallelism },
    concurrency,
    maxWaiting,
  );
}
