/**
 * Renders a mail from its template in the reader's language. Every mail of the server goes
 * through `renderMail`; `mailLocaleFor` picks the language.
 */
import type { LatchkeyContext } from '../../context.js';
import type { MailMessage } from './mailer.js';
import { describeDuration, describeTime, escapeHtml, plainLine } from './mail-text.js';
import type { MailTemplates } from './template-catalog.js';
import { variablesOf, type MailVars, type TemplateName } from './template-names.js';
import { renderTemplate } from './template-syntax.js';

/** What renderMail needs of the context: the templates and the product's name and URL. */
export type MailRenderContext = Pick<LatchkeyContext, 'mailTemplates'> & { config: { mail: { productName: string; appUrl: string } } };

/** User input shown in a mail is cut to this many characters (a name in a greeting, a passkey's name). */
const MAX_VALUE_LENGTH = 200;

/**
 * The values of a template as text: the common ones (product, app_url, email) filled in,
 * durations and times in words of `locale`, everything on one line. Not yet escaped.
 */
function valuesFor(ctx: MailRenderContext, template: TemplateName, locale: string, to: string, vars: MailVars): Record<string, string> {
  const kinds = variablesOf(template);
  const all: MailVars = { product: ctx.config.mail.productName, app_url: ctx.config.mail.appUrl, email: to, ...vars };
  const out: Record<string, string> = {};
  for (const [name, kind] of Object.entries(kinds)) {
    const v = all[name];
    if (v === null || v === undefined) out[name] = '';
    else if (typeof v === 'number') out[name] = kind === 'duration' ? describeDuration(v, locale) : kind === 'time' ? describeTime(v) : String(v);
    else out[name] = plainLine(v).slice(0, name === 'link' ? undefined : MAX_VALUE_LENGTH);
  }
  return out;
}

/**
 * Renders `template` in `locale` (a locale `mailLocaleFor` picked, or any tag: resolved with the
 * same fallback, `de-AT` -> `de`, else DEFAULT_LOCALE) for the recipient `to`. Values are text
 * (user input welcome: flattened to one line everywhere, HTML-escaped in the HTML part); a
 * `duration` variable takes milliseconds, a `time` variable epoch milliseconds (template-names.ts).
 * `product`, `app_url` and `email` (= `to`) are filled in.
 *
 * @example
 * const message = renderMail(ctx, 'email_sign_in', mailLocaleFor(ctx, user, meta), user.email,
 *   { name: user.name, link, code, valid_for: ctx.config.mail.emailSignInTtlMs });
 * ctx.mail.dispatch('email_sign_in', async () => message);
 */
export function renderMail(ctx: MailRenderContext, template: TemplateName, locale: string, to: string, vars: MailVars): MailMessage {
  const templates = ctx.mailTemplates;
  const resolved = templates.resolveLocale(locale) ?? templates.defaultLocale;
  const parts = templates.template(template, resolved);
  const values = valuesFor(ctx, template, resolved, to, vars);
  const asIs = (v: string) => v;
  return {
    to,
    subject: plainLine(renderTemplate(parts.subject, values, asIs)),
    text: renderTemplate(parts.text, values, asIs),
    html: renderTemplate(parts.html, values, escapeHtml),
  };
}

/**
 * The language tags of an Accept-Language header, most wanted first (q-values; equal q keep their
 * order; q=0 and `*` dropped). Malformed entries are skipped; at most 20 entries are read.
 *
 * @example
 * parseAcceptLanguage('fr;q=0.5, de-AT, en;q=0.8') // ['de-at', 'en', 'fr']
 */
export function parseAcceptLanguage(header: string | null | undefined): string[] {
  if (!header) return [];
  const ranked: Array<{ tag: string; q: number; i: number }> = [];
  for (const [i, raw] of header.split(',').slice(0, 20).entries()) {
    const [tagPart, ...params] = raw.split(';');
    const tag = tagPart!.trim().toLowerCase();
    if (!/^[a-z]{1,8}(-[a-z0-9]{1,8})*$/.test(tag)) continue;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([01](\.\d{0,3})?)\s*$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    if (q > 0) ranked.push({ tag, q, i });
  }
  return ranked.sort((a, b) => b.q - a.q || a.i - b.i).map((r) => r.tag);
}

/**
 * The language of a mail to `user`: their stored locale, else the request's Accept-Language
 * (when the mail answers the reader's own request), else DEFAULT_LOCALE; each only when
 * templates serve it (`de-AT` -> `de`; an unsupported one is passed over).
 *
 * @example
 * const locale = mailLocaleFor(ctx, user, requestMeta(request)); // 'de' for a German user
 */
export function mailLocaleFor(
  ctx: Pick<LatchkeyContext, 'mailTemplates'>,
  user: { locale: string | null } | null,
  request?: { acceptLanguage?: string | null | undefined } | null,
): string {
  const t: MailTemplates = ctx.mailTemplates;
  const stored = t.resolveLocale(user?.locale);
  if (stored) return stored;
  for (const tag of parseAcceptLanguage(request?.acceptLanguage)) {
    const found = t.resolveLocale(tag);
    if (found) return found;
  }
  return t.defaultLocale;
}
