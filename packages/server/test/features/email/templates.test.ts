import { describe, expect, it } from 'vitest';
import { describeDuration, escapeHtml, plainLine } from '../../../src/features/email/mail-text.js';
import { mailLocaleFor, parseAcceptLanguage, renderMail } from '../../../src/features/email/render.js';
import { BUILTIN_TEMPLATES, compileBuiltins, loadMailTemplates, TemplateLoadError } from '../../../src/features/email/template-catalog.js';
import { TEMPLATE_NAMES } from '../../../src/features/email/template-names.js';
import { parseTemplate, renderTemplate, TemplateSyntaxError } from '../../../src/features/email/template-syntax.js';

const templates = loadMailTemplates(null, 'en');
const ctx = { mailTemplates: templates, config: { mail: { productName: 'Acme', appUrl: 'https://app.example.com' } } };

describe('mail templates', () => {
  it('escape every HTML-significant character', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  });

  it('flatten control characters in plain text so a name cannot add lines', () => {
    expect(plainLine(' Ada\r\nBcc: evil@example.com\t ')).toBe('Ada Bcc: evil@example.com');
  });

  it('state lifetimes in words, in the mail language', () => {
    expect(describeDuration(24 * 3_600_000)).toBe('24 hours');
    expect(describeDuration(30 * 60_000)).toBe('30 minutes');
    expect(describeDuration(60_000)).toBe('1 minute');
    expect(describeDuration(90 * 60_000)).toBe('1 hour 30 minutes');
    expect(describeDuration(7 * 86_400_000)).toBe('7 days');
    expect(describeDuration(24 * 3_600_000, 'de')).toBe('24 Stunden');
    expect(describeDuration(90 * 60_000, 'de')).toBe('1 Stunde 30 Minuten');
    expect(describeDuration(7 * 86_400_000, 'de')).toBe('7 Tage');
  });

  it('put the link, escaped, in both parts, and a name with a line break stays on the greeting line', () => {
    const link = 'https://app.example.com/verify-email?token=abc&x="1"';
    const m = renderMail(ctx, 'verify_email', 'en', 'a@example.com', { name: 'Ada\nP.S. click evil.example', link, valid_for: 86_400_000 });
    expect(m.text).toContain(`\n${link}\n`);
    expect(m.text).toContain('Hello Ada P.S. click evil.example,\n');
    expect(m.html).toContain('href="https://app.example.com/verify-email?token=abc&amp;x=&quot;1&quot;"');
    expect(m.html).not.toContain(link);
    const r = renderMail(ctx, 'reset_password', 'en', 'a@example.com', { name: null, link, valid_for: 1_800_000 });
    expect(r.subject).toBe('Reset your Acme password');
    expect(r.text.startsWith('Hello,\n')).toBe(true);
    expect(r.text).toContain('expires in 30 minutes');
  });

  it('ship every template in English and German, each part valid (parsed and checked as an operator\'s file is)', () => {
    expect(Object.keys(BUILTIN_TEMPLATES).sort()).toEqual(['de', 'en']);
    expect(compileBuiltins()).toBe(2 * TEMPLATE_NAMES.length * 3);
    for (const locale of ['en', 'de']) {
      for (const name of TEMPLATE_NAMES) {
        const m = renderMail(ctx, name, locale, 'a@example.com', {
          name: 'Ada',
          link: 'https://app.example.com/x?token=t',
          code: '123456',
          valid_for: 900_000,
          when: 0,
          deletes_at: 0,
          passkey_name: 'Desk',
          provider: 'GitHub',
          provider_email: 'ada@github.example',
        });
        expect(m.subject.length, `${locale}/${name}`).toBeGreaterThan(5);
        expect(m.html, `${locale}/${name}`).toContain(`<html lang="${locale}">`);
        expect(m.text, `${locale}/${name}`).toContain(locale === 'de' ? 'Hallo Ada,' : 'Hello Ada,');
        expect(`${m.subject}${m.text}${m.html}`, `${locale}/${name}`).not.toMatch(/\{\{|\}\}/);
      }
    }
    const de = renderMail(ctx, 'email_sign_in', 'de', 'a@example.com', { name: null, link: 'https://x.example/l', code: '123456', valid_for: 900_000 });
    expect(de.subject).toBe('Bei Acme anmelden');
    expect(de.text).toContain('123456');
    expect(de.text).toContain('15 Minuten');
  });

  it('parse only {{name}} and {{#name}}/{{^name}} sections; refuse anything else naming the line', () => {
    const t = parseTemplate('Hi{{#name}} {{name}}{{/name}}{{^name}} there{{/name}}!');
    expect(renderTemplate(t, { name: 'Ada' }, (v) => v)).toBe('Hi Ada!');
    expect(renderTemplate(t, { name: '' }, (v) => v)).toBe('Hi there!');
    expect(() => parseTemplate('a\n{{#name}}b')).toThrow(/line 2: "\{\{#name\}\}" is never closed/);
    expect(() => parseTemplate('{{/name}}')).toThrow(TemplateSyntaxError);
    expect(() => parseTemplate('{{#a}}{{/b}}')).toThrow(TemplateSyntaxError);
    expect(() => parseTemplate('{{ link ')).toThrow(/unbalanced/);
    expect(() => parseTemplate('{{constructor.name}}')).toThrow(/is not a variable/);
    expect(() => parseTemplate('{{> partial}}')).toThrow(/is not a variable/);
  });

  it('rank Accept-Language by q, and resolve de-AT to de, unsupported ones to DEFAULT_LOCALE', () => {
    expect(parseAcceptLanguage('fr;q=0.5, de-AT, en;q=0.8, *;q=0.1, es;q=0')).toEqual(['de-at', 'en', 'fr']);
    expect(parseAcceptLanguage('')).toEqual([]);
    expect(parseAcceptLanguage('<script>, de')).toEqual(['de']);
    expect(templates.resolveLocale('de-AT')).toBe('de');
    expect(templates.resolveLocale('fr')).toBeNull();
    expect(mailLocaleFor(ctx, { locale: 'de-ch' }, { acceptLanguage: 'en' })).toBe('de');
    expect(mailLocaleFor(ctx, { locale: 'fr' }, { acceptLanguage: 'fr, de;q=0.9' })).toBe('de');
    expect(mailLocaleFor(ctx, null, { acceptLanguage: 'fr' })).toBe('en');
    expect(mailLocaleFor({ mailTemplates: loadMailTemplates(null, 'de-AT') }, null, null)).toBe('de');
  });

  it('refuse a DEFAULT_LOCALE without templates', () => {
    expect(() => loadMailTemplates(null, 'fr')).toThrow(TemplateLoadError);
  });
});
