/**
 * Mail in the reader's language, over a real SMTP exchange (smtp-server on 127.0.0.1): the
 * stored locale beats Accept-Language, which beats DEFAULT_LOCALE; tags without templates are
 * passed over (de-AT falls back to de); the operator's MAIL_TEMPLATES_DIR is applied and a broken
 * one refuses to start, naming the file. Runs on both databases (the locale column).
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config.js';
import { bearer, createTestApp, tempDir, type TestApp } from '../../support/helpers.js';
import { startSmtp, tokenFromText, waitFor, type ReceivedMail, type TestSmtp } from '../../support/email.js';

const PASSWORD = 'correct horse battery staple';

let smtp: TestSmtp;
let t: TestApp;
let work: { dir: string; cleanup: () => void };

function mailTo(address: string, nth = 1): () => ReceivedMail | undefined {
  return () => smtp.received.filter((m) => m.envelopeTo.includes(address))[nth - 1];
}

async function register(app: TestApp, payload: Record<string, unknown>, headers: Record<string, string> = {}) {
  return app.app.inject({ method: 'POST', url: '/auth/register', payload: { password: PASSWORD, ...payload }, headers });
}

async function forgot(app: TestApp, email: string, headers: Record<string, string> = {}) {
  const res = await app.app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { email }, headers });
  expect(res.statusCode).toBe(202);
}

/** Writes a MAIL_TEMPLATES_DIR from { 'de/invite.html': '...' }. */
function templateDir(name: string, files: Record<string, string>): string {
  const dir = join(work.dir, name);
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), content);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

beforeAll(async () => {
  work = tempDir('latchkey-locale-');
  smtp = await startSmtp();
  t = await createTestApp({ SMTP_URL: smtp.url, PRODUCT_NAME: 'Acme', APP_URL: 'https://app.acme.test' });
});

afterAll(async () => {
  await t.close();
  await smtp.close();
  work.cleanup();
});

describe('the user’s locale', () => {
  it('register stores it lower-cased and the public user shows it; the verification mail is German for de', async () => {
    const res = await register(t, { email: 'greta@example.com', name: 'Greta', locale: 'de-AT' }, { 'accept-language': 'en' });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().user.locale).toBe('de-at');
    const mail = await waitFor('the German verification mail', mailTo('greta@example.com'));
    expect(mail.parsed.subject).toBe('Bestätigen Sie Ihre E-Mail-Adresse für Acme');
    expect(mail.parsed.text).toContain('Hallo Greta,');
    expect(mail.parsed.text).toContain('ist 24 Stunden lang gültig');
    expect(String(mail.parsed.html)).toContain('<html lang="de">');
    // The link works as in English.
    const { token } = tokenFromText(mail.parsed.text ?? '', 'verify-email');
    expect((await t.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token } })).statusCode).toBe(200);
  });

  it('without one: null in the user, and the mail follows Accept-Language by q-value, passing over languages without templates', async () => {
    const res = await register(t, { email: 'qvalues@example.com' }, { 'accept-language': 'fr-CH, fr;q=0.9, de;q=0.8, en;q=0.7' });
    expect(res.json().user.locale).toBeNull();
    const mail = await waitFor('the verification mail', mailTo('qvalues@example.com'));
    expect(mail.parsed.subject).toBe('Bestätigen Sie Ihre E-Mail-Adresse für Acme');
    expect(mail.parsed.text).toContain('Hallo,');

    await forgot(t, 'qvalues@example.com', { 'accept-language': 'de;q=0.5, en;q=0.9' });
    expect((await waitFor('the reset mail', mailTo('qvalues@example.com', 2))).parsed.subject).toBe('Reset your Acme password');
    await forgot(t, 'qvalues@example.com', { 'accept-language': 'es, it' });
    expect((await waitFor('the reset mail', mailTo('qvalues@example.com', 3))).parsed.subject).toBe('Reset your Acme password');
  });

  it('a stored locale beats Accept-Language', async () => {
    await register(t, { email: 'stored@example.com', locale: 'de' });
    await waitFor('the verification mail', mailTo('stored@example.com'));
    await forgot(t, 'stored@example.com', { 'accept-language': 'en' });
    const mail = await waitFor('the reset mail', mailTo('stored@example.com', 2));
    expect(mail.parsed.subject).toBe('Setzen Sie Ihr Passwort für Acme zurück');
    expect(mail.parsed.text).toContain('ist 30 Minuten lang gültig');
  });

  it('PATCH /auth/me sets, normalises and clears it; a malformed tag is 422 VALIDATION_FAILED and changes nothing', async () => {
    await register(t, { email: 'patch@example.com', name: 'Pat' });
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'patch@example.com', password: PASSWORD } });
    const access = login.json().access_token as string;
    const patch = (payload: Record<string, unknown>) => t.app.inject({ method: 'PATCH', url: '/auth/me', headers: bearer(access), payload });

    const set = await patch({ locale: 'DE-at' });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json().user).toMatchObject({ locale: 'de-at', name: 'Pat' });
    expect((await t.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(access) })).json().user.locale).toBe('de-at');

    for (const bad of ['not a tag', 'de_AT', '<script>', 'x'.repeat(36), 'de--at', 42]) {
      const res = await patch({ locale: bad });
      expect(res.statusCode, String(bad)).toBe(422);
      expect(res.json().code).toBe('VALIDATION_FAILED');
      expect(JSON.stringify(res.json().errors)).toContain('locale');
    }
    expect((await register(t, { email: 'bad-locale@example.com', locale: 'en_US!' })).statusCode).toBe(422);

    // The name alone leaves the locale as it is; null clears it.
    expect((await patch({ name: 'Pat B.' })).json().user.locale).toBe('de-at');
    const cleared = await patch({ locale: null });
    expect(cleared.json().user.locale).toBeNull();
    expect(cleared.json().user.name).toBe('Pat B.');
  });

  it('escapes user input in the HTML part of a German mail', async () => {
    await register(t, { email: 'xss@example.com', name: '<script>alert(1)</script> & Co', locale: 'de' });
    const mail = await waitFor('the mail', mailTo('xss@example.com'));
    const html = String(mail.parsed.html);
    expect(html).toContain('Hallo &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co,');
    expect(html).not.toContain('<script>');
    expect(mail.parsed.text).toContain('Hallo <script>alert(1)</script> & Co,');
  });
});

describe('DEFAULT_LOCALE and MAIL_TEMPLATES_DIR', () => {
  it('DEFAULT_LOCALE=de: a request without a language we have gets German', async () => {
    const de = await createTestApp({ SMTP_URL: smtp.url, PRODUCT_NAME: 'Acme', DEFAULT_LOCALE: 'de' });
    try {
      await register(de, { email: 'default-de@example.com' }, { 'accept-language': 'ja, zh;q=0.5' });
      expect((await waitFor('the mail', mailTo('default-de@example.com'))).parsed.subject).toBe('Bestätigen Sie Ihre E-Mail-Adresse für Acme');
      await register(de, { email: 'default-en@example.com' }, { 'accept-language': 'en-GB' });
      expect((await waitFor('the mail', mailTo('default-en@example.com'))).parsed.subject).toBe('Confirm your email address for Acme');
    } finally {
      await de.close();
    }
  });

  it('applies the operator’s files: a part replaced in de, a new language fr (its missing templates in DEFAULT_LOCALE)', async () => {
    const dir = templateDir('good', {
      'de/verify_email.subject.txt': 'Willkommen bei {{product}}{{#name}}, {{name}}{{/name}}!\n',
      'fr/verify_email.subject.txt': 'Confirmez votre adresse pour {{product}}',
      'fr/verify_email.text.txt': 'Bonjour {{name}},\n\nConfirmez {{email}} : {{link}}\n\nValable {{valid_for}}.\n',
      'fr/verify_email.html': '<p>Bonjour {{name}},</p><p><a href="{{link}}">Confirmer</a> ({{valid_for}})</p>',
    });
    const custom = await createTestApp({ SMTP_URL: smtp.url, PRODUCT_NAME: 'Acme', MAIL_TEMPLATES_DIR: dir });
    try {
      await register(custom, { email: 'custom-de@example.com', name: 'Greta', locale: 'de' });
      const de = await waitFor('the German mail', mailTo('custom-de@example.com'));
      expect(de.parsed.subject).toBe('Willkommen bei Acme, Greta!');
      // The parts not given stay the built-in German ones.
      expect(de.parsed.text).toContain('Bitte bestätigen Sie, dass custom-de@example.com Ihre E-Mail-Adresse für Acme ist.');

      await register(custom, { email: 'custom-fr@example.com', name: '<b>Zoé</b>' }, { 'accept-language': 'fr-CA, de;q=0.5' });
      const fr = await waitFor('the French mail', mailTo('custom-fr@example.com'));
      expect(fr.parsed.subject).toBe('Confirmez votre adresse pour Acme');
      expect(fr.parsed.text).toMatch(/Bonjour <b>Zoé<\/b>,\n\nConfirmez custom-fr@example.com : \S+verify-email\?token=\S+\n\nValable 24\sheures\./);
      expect(String(fr.parsed.html)).toContain('<p>Bonjour &lt;b&gt;Zoé&lt;/b&gt;,</p>');

      // fr has no reset_password: DEFAULT_LOCALE's (en), not the next language of the header.
      await forgot(custom, 'custom-fr@example.com', { 'accept-language': 'fr' });
      expect((await waitFor('the reset mail', mailTo('custom-fr@example.com', 2))).parsed.subject).toBe('Reset your Acme password');
    } finally {
      await custom.close();
    }
  });

  it('refuses to start on a broken template, naming the file and the problem', async () => {
    const cases: Array<[string, Record<string, string>, string, RegExp]> = [
      ['unknown-variable', { 'de/invite.html': '<a href="{{link}}">{{token}}</a>' }, 'de/invite.html', /unknown variable \{\{token\}\}/],
      ['missing-required', { 'en/reset_password.text.txt': 'Hello {{name}}, reset it.' }, 'en/reset_password.text.txt', /must use \{\{link\}\}/],
      ['missing-code', { 'de/email_sign_in.html': '<a href="{{link}}">x</a>' }, 'de/email_sign_in.html', /must use \{\{code\}\}/],
      ['unknown-template', { 'de/welcome.subject.txt': 'Hi' }, 'de/welcome.subject.txt', /unknown template "welcome"/],
      ['unknown-part', { 'de/invite.txt': 'Hi' }, 'de/invite.txt', /expected <template>\.subject\.txt/],
      ['unbalanced', { 'de/invite.subject.txt': 'Hi {{#name}}{{name}}' }, 'de/invite.subject.txt', /never closed/],
      ['unclosed-tag', { 'de/invite.subject.txt': 'Hi {{name' }, 'de/invite.subject.txt', /unbalanced/],
      ['bad-locale', { 'de_DE!/invite.subject.txt': 'Hi' }, 'de_DE!', /not a BCP 47 language tag/],
      ['incomplete-new-language', { 'fr/invite.subject.txt': 'Salut' }, 'fr/invite.text.txt', /fr has no built-in invite/],
    ];
    for (const [name, files, file, problem] of cases) {
      const dir = templateDir(name, files);
      const err = await createTestApp({ MAIL_TEMPLATES_DIR: dir }).then(
        async (app) => {
          await app.close();
          return null;
        },
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(ConfigError);
      const message = (err as Error).message;
      expect(message, name).toContain(`MAIL_TEMPLATES_DIR: ${join(dir, file)}`);
      expect(message, name).toMatch(problem);
    }

    // A file that cannot be read: a link to nothing; and a directory that does not exist.
    const unreadable = templateDir('unreadable', {});
    mkdirSync(join(unreadable, 'de'));
    symlinkSync(join(unreadable, 'nowhere'), join(unreadable, 'de', 'invite.html'));
    await expect(createTestApp({ MAIL_TEMPLATES_DIR: unreadable })).rejects.toThrow(`${join(unreadable, 'de', 'invite.html')}: cannot be read (ENOENT)`);
    await expect(createTestApp({ MAIL_TEMPLATES_DIR: join(work.dir, 'missing') })).rejects.toThrow(/missing: cannot be read \(ENOENT\)/);
    // DEFAULT_LOCALE with no templates names its variable.
    await expect(createTestApp({ DEFAULT_LOCALE: 'fr' })).rejects.toThrow(/^DEFAULT_LOCALE: no templates for "fr" \(there are de, en\)/);
  });
});
