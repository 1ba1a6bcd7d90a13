import { createInterface } from 'node:readline';

/** No password could be read: no variable, no terminal to ask on, nothing on stdin. */
export class NoPasswordError extends Error {
  override name = 'NoPasswordError';
}

/** Asks on the terminal without echoing what is typed. */
function promptHidden(prompt: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  const rlo = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WriteStream };
  let muted = false;
  rlo._writeToOutput = (s: string) => {
    if (!muted) rlo.output.write(s);
  };
  return new Promise((resolve) => {
    rl.question(prompt, (answer) => {
      rl.close();
      process.stdout.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}

/** The first line piped on stdin ('' when nothing was). */
async function firstLineOfStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

/**
 * A password for a command, never from its arguments (where `ps` and shell history see it):
 * the environment variable `variable`, else a prompt on the terminal, else the first line piped
 * on stdin. Throws NoPasswordError, whose message says these three ways, when there is none.
 *
 * @example
 * const password = await readPassword('LATCHKEY_PASSWORD', 'New password: ');
 */
export async function readPassword(variable: string, prompt: string): Promise<string> {
  const fromEnv = process.env[variable];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const password = process.stdin.isTTY ? await promptHidden(prompt) : await firstLineOfStdin();
  if (password === '') {
    throw new NoPasswordError(
      process.stdin.isTTY
        ? 'no password given'
        : `no password: there is no terminal to ask on and ${variable} is not set; set ${variable}, or pipe the password on stdin`,
    );
  }
  return password;
}
