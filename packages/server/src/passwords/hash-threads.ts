import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** One unit of password work, done synchronously inside a hashing thread. */
export type HashJob =
  | { op: 'argon2-hash'; password: string; memoryCost: number; timeCost: number; parallelism: number }
  | { op: 'argon2-verify'; stored: string; password: string }
  | { op: 'bcrypt-verify'; stored: string; password: string };

/**
 * How much lower than the event loop the hashing threads run (Linux `nice`, 0..19). At 19 a
 * hashing thread gets under 2 % of a core while the event loop wants it, and all of it
 * otherwise: a login flood then costs the other requests little latency (the event loop
 * preempts hashing at once) and loses no hashing throughput. Measured (bench scenario (e),
 * p99 of GET /auth/me under 32 concurrent logins / idle p99): 1.6 at 19, 1.9-2.0 at 10, 3.3
 * on libuv's pool at normal priority; logins/s the same at 10 and 19.
 */
export const HASH_THREAD_NICE = 19;

// The worker is plain CommonJS given as a string, so it runs the same from dist/ and from the
// TypeScript sources under test. Module paths come from the parent (resolved from this file).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const argon2 = require(workerData.argon2);
const bcrypt = require(workerData.bcrypt);
try {
  // Lower this thread's own priority: its TID is the first field of /proc/thread-self/stat.
  const tid = Number(require('node:fs').readFileSync('/proc/thread-self/stat', 'utf8').split(' ')[0]);
  if (Number.isInteger(tid) && tid > 0) require('node:os').setPriority(tid, workerData.nice);
} catch {
  // Not Linux, or /proc unavailable: the thread keeps the normal priority.
}
parentPort.on('message', (job) => {
  try {
    let value;
    if (job.op === 'argon2-hash') {
      value = argon2.hashSync(job.password, { algorithm: 2, memoryCost: job.memoryCost, timeCost: job.timeCost, parallelism: job.parallelism });
    } else if (job.op === 'argon2-verify') {
      value = argon2.verifySync(job.stored, job.password);
    } else {
      value = bcrypt.verifySync(job.password, job.stored);
    }
    parentPort.postMessage({ ok: true, value });
  } catch (err) {
    parentPort.postMessage({ ok: false, message: err && err.message ? String(err.message) : 'hash failed' });
  }
});
`;

interface Reply {
  ok: boolean;
  value?: string | boolean;
  message?: string;
}

interface Pending {
  job: HashJob;
  resolve: (value: string | boolean) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  current: Pending | undefined;
}

/**
 * A small pool of worker threads for password hashing, each running one job at a time at a
 * lower CPU priority than the event loop (see HASH_THREAD_NICE). Threads start on first use;
 * a thread keeps the process alive only while it has a job, so a CLI command still exits.
 */
export class HashThreads {
  private readonly slots: Slot[] = [];
  private readonly waiting: Pending[] = [];
  private readonly modules: { argon2: string; bcrypt: string };
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly nice = HASH_THREAD_NICE,
  ) {
    const require = createRequire(import.meta.url);
    this.modules = { argon2: require.resolve('@node-rs/argon2'), bcrypt: require.resolve('@node-rs/bcrypt') };
  }

  /** Runs a job on an idle thread (starting one if fewer than `size` exist), else queues it. */
  run(job: HashJob): Promise<string | boolean> {
    if (this.closed) return Promise.reject(new Error('hash threads closed'));
    return new Promise((resolve, reject) => {
      const pending: Pending = { job, resolve, reject };
      const slot = this.slots.find((s) => s.current === undefined) ?? this.spawn();
      if (slot) this.dispatch(slot, pending);
      else this.waiting.push(pending);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    for (const p of this.waiting.splice(0)) p.reject(new Error('hash threads closed'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot | undefined {
    if (this.slots.length >= this.size) return undefined;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ...this.modules, nice: this.nice },
      // Not the parent's flags: e.g. --input-type=module would make this CommonJS source ESM.
      execArgv: [],
      // The thread runs a few lines of JavaScript around native hashing: a small V8 heap is plenty.
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
    });
    worker.unref();
    const slot: Slot = { worker, current: undefined };
    worker.on('message', (reply: Reply) => this.finish(slot, reply));
    worker.on('error', (err: Error) => this.fail(slot, err));
    worker.on('exit', () => this.fail(slot, new Error('hash thread exited')));
    this.slots.push(slot);
    return slot;
  }

  private dispatch(slot: Slot, pending: Pending): void {
    slot.current = pending;
    slot.worker.ref(); // keep the process alive while a job is in flight
    slot.worker.postMessage(pending.job);
  }

  private finish(slot: Slot, reply: Reply): void {
    const done = slot.current;
    slot.current = undefined;
    const next = this.waiting.shift();
    if (next) this.dispatch(slot, next);
    else slot.worker.unref();
    if (!done) return;
    if (reply.ok && reply.value !== undefined) done.resolve(reply.value);
    else done.reject(new Error(reply.message ?? 'hash failed'));
  }

  /** A thread died: fail its job, forget it (the next job starts a new one). */
  private fail(slot: Slot, err: Error): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    slot.current?.reject(err);
    slot.current = undefined;
    const next = this.waiting.shift();
    if (next && !this.closed) {
      const fresh = this.spawn();
      if (fresh) this.dispatch(fresh, next);
      else this.waiting.unshift(next);
    }
  }
}
