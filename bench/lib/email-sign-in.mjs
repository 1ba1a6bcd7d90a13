// The email-sign-in scenario of ab.mjs: complete email sign-ins, each POST /auth/email/sign-in,
// the mail received over SMTP by a capture server in this process (smtp-server, the code read out
// of the text part), then POST /auth/email/sign-in/verify with the address and the code. A load
// generator cannot wait for a mail between two requests, so the flows run here, `connections` at
// a time; the server's CPU is divided by the completed sign-ins. Every sign-in uses a new address
// (one address gets at most 3 mails per 15 minutes), so the servers run with
// EMAIL_SIGN_IN_CREATES_USERS=true and each sign-in is a new account's first: one user insert more
// than a returning user's.
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** An SMTP server on 127.0.0.1 that hands each sign-in code to whoever waits for its address. */
export async function startCaptureSmtp() {
  const waiting = new Map();
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    logger: false,
    onData(stream, session, cb) {
      simpleParser(stream)
        .then((mail) => {
          const code = /Or enter this code: (\d{6})/.exec(mail.text ?? '')?.[1];
          for (const r of session.envelope.rcptTo) {
            const w = waiting.get(r.address);
            if (w && code) {
              waiting.delete(r.address);
              w(code);
            }
          }
          cb();
        })
        .catch((err) => cb(err));
    },
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address();
  return {
    url: `smtp://127.0.0.1:${port}`,
    /** The code mailed to `address` next (register before asking for the mail). */
    codeFor(address, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(address);
          reject(new Error(`no sign-in mail for ${address}`));
        }, timeoutMs);
        waiting.set(address, (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

let serial = 0;

async function post(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text };
}

/** One complete sign-in with a new address; true when it ended with tokens. */
async function signIn(base, smtp) {
  const email = `bench-${process.pid}-${++serial}-${Date.now().toString(36)}@example.com`;
  const mailed = smtp.codeFor(email);
  const asked = await post(`${base}/auth/email/sign-in`, { email });
  if (asked.status !== 202) {
    mailed.catch(() => undefined);
    return false;
  }
  const code = await mailed;
  const verified = await post(`${base}/auth/email/sign-in/verify`, { email, code });
  return verified.status === 200 && verified.text.includes('access_token');
}

/**
 * Runs complete sign-ins, `connections` at once, for `seconds`; the result in runLoad's shape
 * (`requests`: completed sign-ins; `rps`: sign-ins per second; p50/p99 of one sign-in).
 */
export async function runEmailSignIns(base, smtp, { connections, seconds }) {
  // A few sign-ins first, outside the measurement: the first of each kind compiles the code paths.
  await Promise.all(Array.from({ length: connections }, () => signIn(base, smtp)));
  return async function measure() {
    const durations = [];
    let errors = 0;
    const end = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          if (await signIn(base, smtp).catch(() => false)) durations.push(performance.now() - t0);
          else errors++;
        }
      }),
    );
    durations.sort((x, y) => x - y);
    const at = (q) => durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] ?? 0;
    return { requests: durations.length, rps: durations.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), errors };
  };
}
