/**
 * `latchkey mail preview` and MAIL_TEMPLATES_DIR through the real process (bin/latchkey.js on the
 * build): the preview prints each part of a mail in a language, with the operator's files applied;
 * a broken template stops `latchkey serve` before it touches the database, naming the file.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, requireBuild } from '../support/latchkey-process.js';
import { tempDir } from '../support/helpers.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    // A process that never gives up would hang the test: far beyond any answer here.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let work: { dir: string; cleanup: () => void };
beforeAll(() => {
  requireBuild();
  work = tempDir('latchkey-mail-cli-');
});
afterAll(() => work.cleanup());

describe('latchkey mail preview', () => {
  it('prints the text, HTML or subject of a template in a language, with sample values from the configuration', async () => {
    const env = { PRODUCT_NAME: 'Acme', APP_URL: 'https://app.acme.test' };
    const text = await run(['mail', 'preview', 'email_sign_in', '--locale', 'de-AT'], work.dir, env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('Hallo Ada Lovelace,');
    expect(text.stdout).toContain('https://app.acme.test/email-sign-in?token=SAMPLE-TOKEN-not-a-real-one');
    expect(text.stdout).toContain('123456');
    expect(text.stdout).toContain('15 Minuten');
    // Nothing but the mail on stdout (no database was opened or named).
    expect(text.stderr).toBe('');
    expect(existsSync(join(work.dir, 'data'))).toBe(false);

    const subject = await run(['mail', 'preview', 'verify_email', '--format', 'subject'], work.dir, env);
    expect(subject).toMatchObject({ code: 0, stdout: 'Confirm your email address for Acme\n' });
    const html = await run(['mail', 'preview', 'invite', '--locale', 'de', '--format', 'html'], work.dir, env);
    expect(html.code).toBe(0);
    expect(html.stdout).toMatch(/^<!doctype html>\n<html lang="de">/);
    expect(html.stdout).toContain('href="https://app.acme.test/accept-invite?token=SAMPLE-TOKEN-not-a-real-one"');
    expect(html.stdout).toContain('ist 7 Tage lang gültig');
  });

  it('applies MAIL_TEMPLATES_DIR, and names a broken file (exit 1)', async () => {
    const dir = join(work.dir, 'templates');
    mkdirSync(join(dir, 'fr'), { recursive: true });
    writeFileSync(join(dir, 'fr', 'account_deleted.subject.txt'), 'Votre compte {{product}} a été supprimé');
    writeFileSync(join(dir, 'fr', 'account_deleted.text.txt'), 'Bonjour {{name}},\nc’est fait.\n');
    writeFileSync(join(dir, 'fr', 'account_deleted.html'), '<p>Bonjour {{name}},</p>');
    const env = { MAIL_TEMPLATES_DIR: dir, PRODUCT_NAME: 'Acme' };
    const fr = await run(['mail', 'preview', 'account_deleted', '--locale', 'fr-CA', '--format', 'subject'], work.dir, env);
    expect(fr).toMatchObject({ code: 0, stdout: 'Votre compte Acme a été supprimé\n' });

    writeFileSync(join(dir, 'fr', 'account_deleted.html'), '<p>Bonjour {{user.name}}</p>');
    const broken = await run(['mail', 'preview', 'account_deleted', '--locale', 'fr'], work.dir, env);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`invalid configuration: MAIL_TEMPLATES_DIR: ${join(dir, 'fr', 'account_deleted.html')}: line 1: "{{user.name}}" is not a variable`);
    expect(broken.stdout).toBe('');

    // serve refuses too, before it opens (or creates) the database.
    const serve = await run(['serve'], work.dir, { ...env, DATABASE_URL: `sqlite:${join(work.dir, 'serve.db')}`, PORT: '0' });
    expect(serve.code).toBe(1);
    expect(serve.stderr).toContain(`MAIL_TEMPLATES_DIR: ${join(dir, 'fr', 'account_deleted.html')}`);
    expect(existsSync(join(work.dir, 'serve.db'))).toBe(false);
  });

  it('refuses an unknown template, locale, format or subcommand with the usage', async () => {
    for (const [args, message] of [
      [['mail', 'preview', 'welcome'], 'unknown template "welcome"'],
      [['mail', 'preview', 'invite', '--locale', 'ja'], 'no templates for the locale "ja" (there are de, en)'],
      [['mail', 'preview', 'invite', '--format', 'pdf'], '--format must be text, html or subject'],
      [['mail', 'send'], 'unknown command "mail send"'],
      [['mail', 'preview'], 'an argument is missing'],
    ] as const) {
      const res = await run([...args], work.dir);
      expect(res.code, args.join(' ')).toBe(1);
      expect(res.stderr).toContain(message);
      expect(res.stderr).toContain('usage: latchkey mail preview TEMPLATE');
    }
  });
});
