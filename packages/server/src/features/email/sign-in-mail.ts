import type { MailMessage } from './mailer.js';
import { describeDuration, escapeHtml, plainLine, type MailBrand } from './templates.js';

/**
 * The variables of the `email_sign_in` mail (docs/email.md, "Email sign-in"): the names the
 * per-locale templates use (`link`, `code`, `valid_for`, `name`).
 */
export interface EmailSignInMailInput {
  to: string;
  /** The user's display name (user input: escaped in HTML, flattened in text); null for a new address. */
  name: string | null;
  /** The full link, token included: APP_URL/email-sign-in?token=... */
  link: string;
  /** The 6-digit code, the link's alternative for a mail read on another device. */
  code: string;
  validForMs: number;
}

/**
 * The sign-in mail: a link and a 6-digit code, either of which signs in once. The code is not in
 * the subject, which lock screens and notification previews show to anyone near the phone.
 *
 * @example
 * const message = emailSignInMail(brand(ctx), { to, name: null, link, code: '042917', validForMs: 900_000 });
 */
export function emailSignInMail(brand: MailBrand, input: EmailSignInMailInput): MailMessage {
  const product = plainLine(brand.productName);
  const name = input.name === null ? '' : plainLine(input.name).slice(0, 100);
  const hello = name ? `Hello ${name},` : 'Hello,';
  const validFor = describeDuration(input.validForMs);
  const intro = `Someone asked to sign in to ${product} as ${input.to}.`;
  const once = `The link and the code work once, for ${validFor}; using one cancels the other.`;
  const ignore = 'If this was not you, ignore this message: nobody can sign in without it.';
  const text = [
    hello,
    '',
    intro,
    '',
    'Sign in with this link:',
    input.link,
    '',
    `Or enter this code: ${input.code}`,
    '',
    once,
    ignore,
    '',
    `— ${product}`,
    brand.appUrl,
    '',
  ].join('\n');
  const e = escapeHtml;
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${e(brand.productName)}</title></head>
<body style="margin:0;padding:24px;background:#f5f5f7;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1d1d1f">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;padding:32px">
<tr><td style="font-size:20px;font-weight:600;padding-bottom:16px">${e(brand.productName)}</td></tr>
<tr><td style="font-size:15px;line-height:1.5">
<p>${e(hello)}</p>
<p>${e(intro)}</p>
<p style="padding:16px 0"><a href="${e(input.link)}" style="background:#0b57d0;color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:6px;display:inline-block">Sign in</a></p>
<p>Or enter this code:</p>
<p style="font-size:28px;font-weight:600;letter-spacing:6px;font-family:ui-monospace,Menlo,Consolas,monospace">${e(input.code)}</p>
<p style="font-size:13px;color:#555">Or paste this link into your browser:<br><a href="${e(input.link)}" style="color:#0b57d0;word-break:break-all">${e(input.link)}</a></p>
<p style="font-size:13px;color:#555">${e(once)} ${e(ignore)}</p>
</td></tr>
<tr><td style="font-size:12px;color:#888;padding-top:24px"><a href="${e(brand.appUrl)}" style="color:#888">${e(brand.appUrl)}</a></td></tr>
</table>
</td></tr></table>
</body>
</html>
`;
  return { to: input.to, subject: plainLine(`Sign in to ${product}`), text, html };
}
