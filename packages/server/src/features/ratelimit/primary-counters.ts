import type { Worker } from 'node:cluster';
import type { Clock } from '../../clock.js';
import type { RateCounter } from '../../store/types.js';
import { MemoryCounters, type CounterStore } from './counters.js';

/**
 * Set by `latchkey serve --workers N` in its workers' environment: the primary answers counter
 * calls (below). A worker of some other cluster (a host app's) does not have it.
 */
export const PRIMARY_COUNTERS_ENV = 'LATCHKEY_PRIMARY_COUNTERS';

const OP_HIT = 0;
const OP_PEEK = 1;
const OP_RESET = 2;
type Op = typeof OP_HIT | typeof OP_PEEK | typeof OP_RESET;

/** worker -> primary: [id, op, key, windowMs]; primary -> worker: [id, count, resetAt] (count -1: no window). */
type Call = [number, Op, string, number];
type Answer = [number, number, number];
interface CallBatch {
  latchkeyCounters: Call[];
}
interface AnswerBatch {
  latchkeyCounters: Answer[];
}

/** What PrimaryCounters needs of its process: the IPC channel to the primary. */
export interface IpcChannel {
  send?(message: unknown): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/**
 * Counters held by the primary of `latchkey serve --workers N`, used by its workers: every worker
 * counts against the same windows, so a limit is the limit of the whole server, not of each worker,
 * and the login backoff locks a pair on every worker at once. Exact: the primary answers one call
 * at a time. The counts live in the primary's memory (bounded as MemoryCounters) and survive a
 * worker's restart, not the server's.
 *
 * Why not the database on SQLite: a hit is a write transaction, and with several processes on the
 * file a write that finds another process's lock waits in SQLite's busy handler, which sleeps the
 * whole event loop (1 ms, then longer). Measured with 2 workers on GET /auth/me: about a fifth of
 * the throughput without limits; through the primary, see docs/deploy.md.
 *
 * Calls made during one event-loop turn go as one message and come back as one. A call the primary
 * has not answered within `timeoutMs` is rejected (the limiter then lets the request through and
 * logs, as with every backend): never a hung request.
 */
export class PrimaryCounters implements CounterStore {
  readonly kind = 'primary' as const;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (c: RateCounter | null) => void; reject: (err: Error) => void; sentAt: number }>();
  private outbox: Call[] = [];
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly channel: IpcChannel = process,
    private readonly timeoutMs = 2000,
  ) {
    channel.on('message', this.onMessage);
    this.sweeper = setInterval(() => this.expire(), Math.max(100, timeoutMs / 2));
    this.sweeper.unref();
  }

  async hit(key: string, windowMs: number): Promise<RateCounter> {
    return (await this.call(OP_HIT, key, windowMs))!;
  }

  peek(key: string): Promise<RateCounter | null> {
    return this.call(OP_PEEK, key, 0);
  }

  async reset(key: string): Promise<void> {
    await this.call(OP_RESET, key, 0);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.channel.off('message', this.onMessage);
    for (const w of this.waiting.values()) w.reject(new Error('rate-limit counters closed'));
    this.waiting.clear();
  }

  private call(op: Op, key: string, windowMs: number): Promise<RateCounter | null> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.waiting.set(id, { resolve, reject, sentAt: Date.now() });
      if (this.outbox.push([id, op, key, windowMs]) === 1) setImmediate(this.flush);
    });
  }

  private readonly flush = (): void => {
    const calls = this.outbox;
    this.outbox = [];
    try {
      if (!this.channel.send) throw new Error('no IPC channel to the primary');
      this.channel.send({ latchkeyCounters: calls } satisfies CallBatch);
    } catch (err) {
      for (const [id] of calls) {
        this.waiting.get(id)?.reject(err as Error);
        this.waiting.delete(id);
      }
    }
  };

  private readonly onMessage = (message: unknown): void => {
    if (!isBatch(message)) return;
    for (const answer of (message as AnswerBatch).latchkeyCounters) {
      const [id, count, resetAt] = answer;
      const w = this.waiting.get(id);
      if (!w) continue; // timed out meanwhile
      this.waiting.delete(id);
      w.resolve(count < 0 ? null : { count, resetAt });
    }
  };

  private expire(): void {
    const cutoff = Date.now() - this.timeoutMs;
    for (const [id, w] of this.waiting) {
      if (w.sentAt > cutoff) continue;
      this.waiting.delete(id);
      w.reject(new Error('the primary did not answer the rate-limit counter call'));
    }
  }
}

function isBatch(message: unknown): boolean {
  return typeof message === 'object' && message !== null && Array.isArray((message as { latchkeyCounters?: unknown }).latchkeyCounters);
}

/**
 * In the primary of `serve --workers N`: answers the workers' counter calls from one set of
 * in-memory counters. Returns the counters (closed with the primary).
 *
 * @example
 * serveCountersToWorkers(cluster, systemClock);
 */
export function serveCountersToWorkers(
  cluster: { on(event: 'message', listener: (worker: Worker, message: unknown) => void): unknown },
  clock: Clock,
): MemoryCounters {
  const counters = new MemoryCounters(clock);
  cluster.on('message', (worker, message) => {
    if (!isBatch(message)) return;
    const answers: Answer[] = [];
    for (const call of (message as CallBatch).latchkeyCounters) {
      if (!Array.isArray(call) || call.length !== 4) continue;
      const [id, op, key, windowMs] = call;
      if (typeof id !== 'number' || typeof key !== 'string') continue;
      if (op === OP_HIT && typeof windowMs === 'number' && windowMs > 0) {
        const w = counters.hitNow(key, windowMs);
        answers.push([id, w.count, w.resetAt]);
      } else if (op === OP_PEEK) {
        const w = counters.peekNow(key);
        answers.push(w ? [id, w.count, w.resetAt] : [id, -1, 0]);
      } else if (op === OP_RESET) {
        counters.resetNow(key);
        answers.push([id, -1, 0]);
      }
    }
    // A worker that died meanwhile has no channel: its calls died with it.
    if (answers.length === 0 || !worker.isConnected()) return;
    try {
      worker.send({ latchkeyCounters: answers } satisfies AnswerBatch);
    } catch {
      // Disconnected between the check and the send: its calls died with it.
    }
  });
  return counters;
}
