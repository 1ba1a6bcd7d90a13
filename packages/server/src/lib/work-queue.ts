/** Raised when the queue is full; the HTTP layer answers 503 with Retry-After. */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

/**
 * Runs async jobs with bounded concurrency and a bounded waiting line. Password hashing goes
 * through it so that a login flood costs a fixed amount of memory (concurrency x argon2 memory)
 * and sheds load quickly instead of queueing without bound.
 */
export class WorkQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private admitted = 0;

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
  ) {}

  get depth(): number {
    return this.waiting.length;
  }

  get active(): number {
    return this.running;
  }

  /** Jobs admitted since construction (run or waiting; not those refused as full): the work asked of it. */
  get started(): number {
    return this.admitted;
  }

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) throw new QueueFullError('work queue is full');
      this.admitted++;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.admitted++;
      this.running++;
    }
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      // Hand the slot straight to the next waiter; `running` stays the same.
      if (next) next();
      else this.running--;
    }
  }
}
