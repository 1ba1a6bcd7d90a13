import { describe, expect, it } from 'vitest';
import { describeDuration, escapeHtml, passwordResetMail, plainLine, verificationMail } from '../../../src/features/email/templates.js';

describe('mail templates', () => {
  it('escape every HTML-significant character', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  });

  it('flatten control characters in plain text so a name cannot add lines', () => {
    expect(plainLine(' Ada\r\nBcc: evil@example.com\t ')).toBe('Ada Bcc: evil@example.com');
  });

  it('state lifetimes in words', () => {
    expect(describeDuration(24 * 3_600_000)).toBe('24 hours');
    expect(describeDuration(30 * 60_000)).toBe('30 minutes');
    expect(describeDuration(60_000)).toBe('1 minute');
    expect(describeDuration(90 * 60_000)).toBe('1 hour 30 minutes');
    expect(describeDuration(7 * 86_400_000)).toBe('7 days');
  });

  it('put the link, escaped, in both parts, and a name with a line break stays on the greeting line', () => {
    const brand = { productName: 'Acme', appUrl: 'https://app.example.com' };
    const link = 'https://app.example.com/verify-email?token=abc&x="1"';
    const m = verificationMail(brand, { to: 'a@example.com', name: 'Ada\nP.S. click evil.example', link, validForMs: 86_400_000 });
    expect(m.text).toContain(`\n${link}\n`);
    expect(m.text).toContain('Hello Ada P.S. click evil.example,\n');
    expect(m.html).toContain('href="https://app.example.com/verify-email?token=abc&amp;x=&quot;1&quot;"');
    expect(m.html).not.toContain(link);
    const r = passwordResetMail(brand, { to: 'a@example.com', name: null, link, validForMs: 1_800_000 });
    expect(r.subject).toBe('Reset your Acme password');
    expect(r.text.startsWith('Hello,\n')).toBe(true);
    expect(r.text).toContain('expires in 30 minutes');
  });
});
