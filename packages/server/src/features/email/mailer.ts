import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Transporter } from 'nodemailer';
import type { MailConfig } from '../../config.js';

/** One rendered message: both bodies are always sent (multipart/alternative). */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** Where a message ended up: `file` is set when it was written to the outbox. */
export interface MailReceipt {
  file?: string;
}

/**
 * Where Latchkey's mail goes. `SmtpMailer` sends through any nodemailer transport (SMTP by
 * default); `OutboxMailer` writes `.eml` files when no SMTP server is configured. An embedding
 * app can pass its own (`app.register(latchkey, { mailer })`).
 */
export interface Mailer {
  /** For log lines: never credentials, e.g. "smtp://mail.example.com:587". */
  readonly description: string;
  /** Delivers one message; rejects when the server refuses it or cannot be reached. */
  send(message: MailMessage): Promise<MailReceipt>;
  close(): Promise<void>;
}

/** Timeouts tighter than nodemailer's defaults (2 min to connect): a dead server fails fast and is retried. */
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 } as const;

/**
 * Sends through a nodemailer transport.
 *
 * @example
 * const mailer = new SmtpMailer(nodemailer.createTransport({ host: '127.0.0.1', port: 2525 }), 'no-reply@example.com');
 */
export class SmtpMailer implements Mailer {
  constructor(
    private readonly transport: Transporter<unknown>,
    private readonly from: string,
    readonly description = 'smtp',
  ) {}

  /** A mailer for `SMTP_URL` (smtp:// with opportunistic STARTTLS, smtps:// for implicit TLS). */
  static async fromUrl(url: string, from: string): Promise<SmtpMailer> {
    const nodemailer = await import('nodemailer');
    const transport = nodemailer.createTransport({ url, ...SMTP_TIMEOUTS }) as Transporter<unknown>;
    return new SmtpMailer(transport, from, describeSmtpUrl(url));
  }

  async send(message: MailMessage): Promise<MailReceipt> {
    await this.transport.sendMail({ from: this.from, ...message });
    return {};
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

/** The URL without user, password or query: safe to log. */
export function describeSmtpUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}`;
}

/**
 * Writes each message as an RFC 5322 `.eml` file (open it in any mail client) and, beside it, a
 * `.txt` file with its headers and text part as written (the `.eml` is quoted-printable: its
 * links are broken across lines and `=` is `=3D`), into a directory only the server's user can
 * read: both hold live tokens. For development and for servers without SMTP; nothing is ever
 * dropped silently.
 */
export class OutboxMailer implements Mailer {
  readonly description: string;
  private readonly dir: string;
  /** nodemailer builds the message; loaded with the first one (start-up does not pay for it). */
  private compiler: Promise<Transporter<unknown>> | undefined;

  constructor(
    dir: string,
    private readonly from: string,
  ) {
    this.dir = resolve(dir);
    this.description = `outbox ${this.dir}`;
  }

  async send(message: MailMessage): Promise<MailReceipt> {
    this.compiler ??= import('nodemailer').then(
      (nodemailer) => nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' }) as Transporter<unknown>,
    );
    const info = (await (await this.compiler).sendMail({ from: this.from, ...message })) as { message: Buffer };
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const name = join(this.dir, `${stamp}-${randomBytes(4).toString('hex')}`);
    const file = `${name}.eml`;
    await writeFile(file, info.message, { mode: 0o600, flag: 'wx' });
    const readable = `From: ${this.from}\nTo: ${message.to}\nSubject: ${message.subject}\n\n${message.text}`;
    await writeFile(`${name}.txt`, readable.endsWith('\n') ? readable : `${readable}\n`, { mode: 0o600, flag: 'wx' });
    return { file };
  }

  async close(): Promise<void> {
    if (this.compiler) (await this.compiler).close();
  }
}

/**
 * SMTP when `SMTP_URL` is set, else the outbox directory.
 *
 * @example
 * const mailer = await createMailer(config.mail);
 */
export async function createMailer(config: Pick<MailConfig, 'smtpUrl' | 'mailFrom' | 'mailOutboxDir'>): Promise<Mailer> {
  if (config.smtpUrl) return SmtpMailer.fromUrl(config.smtpUrl, config.mailFrom);
  return new OutboxMailer(config.mailOutboxDir, config.mailFrom);
}
