/**
 * The two layouts of the built-in mails, as template sources: a mail with a link to follow
 * (verification, reset, invitation, email sign-in) and a notice (factor changes, linked
 * identities, account deletion). Each language gives its sentences; the sentences are template
 * text (they may hold {{variables}}) and are HTML-escaped here for the HTML part, so a literal
 * `&` or `"` in a translation is safe while the {{tags}} stay as they are.
 */
import { escapeHtml } from '../mail-text.js';

export interface TemplateSources {
  subject: string;
  text: string;
  html: string;
}

/** What every mail of a language shares. */
export interface LanguageBasics {
  /** The `lang` attribute of the HTML part. */
  lang: string;
  /** "Hello" (the greeting adds the name and the comma). */
  hello: string;
}

export interface LinkMailWords {
  subject: string;
  intro: string;
  action: string;
  /** "Or paste this link into your browser:" */
  paste: string;
  /** "This link works once and expires in {{valid_for}}." */
  validity: string;
  ignore: string;
  /** A paragraph after the link, e.g. the code of an email sign-in; its value is shown large in HTML. */
  code?: { before: string; variable: string };
}

export interface NoticeWords {
  subject: string;
  /** The paragraphs of the notice. */
  paragraphs: string[];
  /** Smaller print after them ("When: {{when}}", "If this was not you ..."). */
  small: string[];
}

function greetingText(b: LanguageBasics): string {
  return `{{#name}}${b.hello} {{name}},{{/name}}{{^name}}${b.hello},{{/name}}`;
}

const HEAD = (lang: string) => `<!doctype html>
<html lang="${lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>{{product}}</title></head>
<body style="margin:0;padding:24px;background:#f5f5f7;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1d1d1f">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;padding:32px">
<tr><td style="font-size:20px;font-weight:600;padding-bottom:16px">{{product}}</td></tr>
<tr><td style="font-size:15px;line-height:1.5">
`;

const FOOT = `</td></tr>
<tr><td style="font-size:12px;color:#888;padding-top:24px"><a href="{{app_url}}" style="color:#888">{{app_url}}</a></td></tr>
</table>
</td></tr></table>
</body>
</html>
`;

const e = escapeHtml;

/** A mail whose point is one link (and, for an email sign-in, a code). */
export function linkMail(b: LanguageBasics, w: LinkMailWords): TemplateSources {
  const codeText = w.code ? [`${w.code.before}`, `{{${w.code.variable}}}`, ''] : [];
  const text = [greetingText(b), '', w.intro, '', `${w.action}:`, '{{link}}', '', ...codeText, w.validity, w.ignore, '', '— {{product}}', '{{app_url}}', ''].join('\n');
  const codeHtml = w.code
    ? `<p>${e(w.code.before)}</p>\n<p style="font-size:24px;font-weight:600;letter-spacing:4px">{{${w.code.variable}}}</p>\n`
    : '';
  const html = `${HEAD(b.lang)}<p>${e(greetingText(b))}</p>
<p>${e(w.intro)}</p>
<p style="padding:16px 0"><a href="{{link}}" style="background:#0b57d0;color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:6px;display:inline-block">${e(w.action)}</a></p>
<p style="font-size:13px;color:#555">${e(w.paste)}<br><a href="{{link}}" style="color:#0b57d0;word-break:break-all">{{link}}</a></p>
${codeHtml}<p style="font-size:13px;color:#555">${e(w.validity)} ${e(w.ignore)}</p>
${FOOT}`;
  return { subject: w.subject, text, html };
}

/** A notice: what happened, and what to do if it was not the reader. Its one link is APP_URL. */
export function noticeMail(b: LanguageBasics, w: NoticeWords): TemplateSources {
  const text = [greetingText(b), '', ...w.paragraphs.flatMap((p, i) => (i === 0 ? [p] : ['', p])), ...w.small.flatMap((s, i) => (i === 0 ? [s] : ['', s])), '', '— {{product}}', '{{app_url}}', ''].join('\n');
  const html = `${HEAD(b.lang)}<p>${e(greetingText(b))}</p>
${w.paragraphs.map((p) => `<p>${e(p)}</p>\n`).join('')}${w.small.map((s) => `<p style="font-size:13px;color:#555">${e(s)}</p>\n`).join('')}${FOOT}`;
  return { subject: w.subject, text, html };
}
