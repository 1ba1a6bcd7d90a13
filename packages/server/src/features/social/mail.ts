import type { MailMessage } from '../email/mailer.js';
import { escapeHtml, plainLine, type MailBrand } from '../email/templates.js';

/**
 * The notice sent when a provider account is linked to a user's account (docs/social-login.md):
 * a linked identity is a new way in, so its owner hears of it, as with a password change. It
 * carries no link that acts: only where to review the account.
 */
export function identityLinkedMail(brand: MailBrand, input: { to: string; name: string | null; providerName: string; providerEmail: string | null }): MailMessage {
  const product = plainLine(brand.productName);
  const provider = plainLine(input.providerName);
  const name = input.name === null ? '' : plainLine(input.name).slice(0, 100);
  const account = input.providerEmail ? ` (${plainLine(input.providerEmail)})` : '';
  const intro = `A ${provider} account${account} was linked to your ${product} account: it can now be used to sign in.`;
  const advice = `If this was not you, sign in, remove it under your account's sign-in methods, and change your password.`;
  const text = [name ? `Hello ${name},` : 'Hello,', '', intro, '', advice, '', `— ${product}`, brand.appUrl, ''].join('\n');
  const e = escapeHtml;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${e(product)}</title></head>
<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1d1d1f">
<p>${e(name ? `Hello ${name},` : 'Hello,')}</p>
<p>${e(intro)}</p>
<p>${e(advice)}</p>
<p style="font-size:12px;color:#888"><a href="${e(brand.appUrl)}" style="color:#888">${e(brand.appUrl)}</a></p>
</body></html>
`;
  return { to: input.to, subject: plainLine(`${provider} was linked to your ${product} account`), text, html };
}
