import type { FastifyBaseLogger } from 'fastify';
import { WorkQueue } from '../../lib/work-queue.js';
import type { MailMessage, Mailer } from './mailer.js';

/** Builds a message (creating its token) or decides there is none to send (null). */
export type MailJob = () => Promise<MailMessage | null>;

/** Error fields safe to log: no message body, no credentials. */
function describeError(err: unknown): Record<string, unknown> {
  if (typeof err !== 'object' || err === null) return { message: String(err) };
  const e = err as { name?: unknown; message?: unknown; code?: unknown; responseCode?: unknown; command?: unknown };
  return { type: e.name, message: e.message, code: e.code, responseCode: e.responseCode, command: e.command };
}

/** An SMTP 5xx reply (e.g. 550 no such mailbox): asking again would get the same answer. */
function isPermanentRejection(err: unknown): boolean {
  const code = (err as { responseCode?: unknown } | null)?.responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

/**
 * Sends mail in the background, after the request that asked for it has been answered, so that
 * neither the answer nor its timing depends on the mail server. A failed delivery is retried
 * after each of `retryDelaysMs` (a 5xx refusal is not), then given up; every outcome is logged (recipient, subject,
 * attempt) and nothing logged ever contains the message body, which holds the token.
 */
export class MailDispatcher {
  private readonly running = new Set<Promise<void>>();
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private closing = false;
  /**
   * At most 4 SMTP exchanges at once, and a bounded line behind them: a burst of registrations
   * does not open hundreds of connections. A message that finds the line full counts as a
   * failed attempt and is retried later.
   */
  private readonly sending = new WorkQueue(4, 10_000);

  constructor(
    readonly mailer: Mailer,
    private readonly log: FastifyBaseLogger,
    private readonly retryDelaysMs: readonly number[],
  ) {}

  /** Runs `job` in the background and delivers its message. Never throws. */
  dispatch(kind: string, job: MailJob): void {
    if (this.closing) {
      this.log.error({ mail: kind }, 'mail not sent: the server is shutting down');
      return;
    }
    const run = this.run(kind, job).finally(() => this.running.delete(run));
    this.running.add(run);
  }

  /** Resolves once every dispatched message is delivered or given up (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Cancels pending retries (each is logged as not delivered), waits for attempts in flight, closes the mailer. */
  async close(): Promise<void> {
    this.closing = true;
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.wake();
    }
    await this.idle();
    await this.mailer.close();
  }

  private async run(kind: string, job: MailJob): Promise<void> {
    let prepared: MailMessage | null;
    try {
      prepared = await job();
    } catch (err) {
      this.log.error({ mail: kind, err: describeError(err) }, 'mail not sent: could not prepare it');
      return;
    }
    if (!prepared) return;
    const message = prepared;
    const about = { mail: kind, to: message.to, subject: message.subject };
    for (let attempt = 1; ; attempt++) {
      try {
        const receipt = await this.sending.run(() => this.mailer.send(message));
        if (receipt.file) this.log.info({ ...about, attempt, file: receipt.file }, 'mail written to the outbox (no SMTP_URL)');
        else this.log.info({ ...about, attempt, via: this.mailer.description }, 'mail sent');
        return;
      } catch (err) {
        const permanent = isPermanentRejection(err);
        const delay = permanent ? undefined : this.retryDelaysMs[attempt - 1];
        if (delay === undefined || this.closing) {
          this.log.error(
            { ...about, attempts: attempt, via: this.mailer.description, err: describeError(err) },
            permanent ? 'mail not delivered: the server refused it permanently' : 'mail not delivered: giving up',
          );
          return;
        }
        this.log.warn(
          { ...about, attempt, retry_in_ms: delay, via: this.mailer.description, err: describeError(err) },
          'mail delivery failed; will retry',
        );
        await this.sleep(delay);
        if (this.closing) {
          this.log.error({ ...about, attempts: attempt }, 'mail not delivered: the server shut down before the retry');
          return;
        }
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((wake) => {
      const sleeper = {
        timer: setTimeout(() => {
          this.sleepers.delete(sleeper);
          wake();
        }, ms),
        wake,
      };
      this.sleepers.add(sleeper);
    });
  }
}
