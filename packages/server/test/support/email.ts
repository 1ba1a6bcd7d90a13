import { simpleParser, type ParsedMail } from 'mailparser';
import { createServer, type AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** A message as the SMTP server received it, parsed by mailparser, with the SMTP envelope. */
export interface ReceivedMail {
  parsed: ParsedMail;
  envelopeFrom: string | null;
  envelopeTo: string[];
  /** The user the client authenticated as, when it did. */
  authUser: string | null;
}

export interface TestSmtp {
  port: number;
  url: string;
  received: ReceivedMail[];
  /** The most messages that were being received at the same moment. */
  maxConcurrentData(): number;
  close(): Promise<void>;
}

/**
 * A real SMTP server (smtp-server) on 127.0.0.1. No STARTTLS (a plain local link); with
 * `auth`, it requires exactly those credentials (AUTH PLAIN/LOGIN over the plain link);
 * `rejectRecipients` are refused with 550 at RCPT TO; `dataDelayMs` holds each 250 reply back.
 */
export async function startSmtp(
  opts: { port?: number; auth?: { user: string; pass: string }; rejectRecipients?: string[]; dataDelayMs?: number } = {},
): Promise<TestSmtp> {
  const received: ReceivedMail[] = [];
  let inData = 0;
  let maxInData = 0;
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, cb) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass) cb(null, { user: auth.username });
      else cb(new Error('Invalid username or password'));
    },
    onRcptTo(address, _session, cb) {
      if (!opts.rejectRecipients?.includes(address.address)) return cb();
      const err = Object.assign(new Error('No such mailbox here'), { responseCode: 550 });
      return cb(err);
    },
    onData(stream, session, cb) {
      inData++;
      maxInData = Math.max(maxInData, inData);
      // The 250 reply (and so nodemailer's success) comes only after the message is parsed and kept.
      simpleParser(stream)
        .then(async (parsed) => {
          if (opts.dataDelayMs) await new Promise((r) => setTimeout(r, opts.dataDelayMs));
          received.push({
            parsed,
            envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
            envelopeTo: session.envelope.rcptTo.map((r) => r.address),
            authUser: typeof session.user === 'string' ? session.user : null,
          });
          inData--;
          cb();
        })
        .catch((err: Error) => {
          inData--;
          cb(err);
        });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  const credentials = opts.auth ? `${encodeURIComponent(opts.auth.user)}:${encodeURIComponent(opts.auth.pass)}@` : '';
  return {
    port,
    url: `smtp://${credentials}127.0.0.1:${port}`,
    received,
    maxConcurrentData: () => maxInData,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Polls until `check` returns a value; fails with `what` after `timeoutMs` (a bound, not a timing assertion). */
export async function waitFor<T>(what: string, check: () => T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The token of the first link to `path` in a text body. */
export function tokenFromText(text: string, path: 'verify-email' | 'reset-password'): { link: string; token: string } {
  const m = new RegExp(`(https?://\\S+/${path}\\?token=([A-Za-z0-9_-]+))`).exec(text);
  if (!m) throw new Error(`no ${path} link in the message`);
  return { link: m[1]!, token: m[2]! };
}

/** The claims of a JWT, unverified (the server under test made it). */
export function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}
