/**
 * The two mails of a self-service deletion (docs/account.md), in the style of
 * features/email/templates.ts: `account_deletion_scheduled` (variables: name, deletes_at, the
 * hint that signing in cancels it) and `account_deleted` (name). Neither carries a link that acts:
 * the account is gone, or going, and the way to keep it is an ordinary sign-in.
 */
import type { MailMessage } from '../email/mailer.js';
import { escapeHtml, plainLine, type MailBrand } from '../email/templates.js';

export interface DeletionMailInput {
  to: string;
  /** The user's display name; user input, so escaped in HTML and flattened in text. */
  name: string | null;
}

function greeting(name: string | null): string {
  const n = name === null ? '' : plainLine(name).slice(0, 100);
  return n ? `Hello ${n},` : 'Hello,';
}

/** "2026-01-08 12:00 UTC": one form a reader anywhere can read, as the factor notices write it. */
function utcMinute(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
}

function render(brand: MailBrand, to: string, subject: string, name: string | null, paragraphs: readonly string[]): MailMessage {
  const product = plainLine(brand.productName);
  const text = [greeting(name), '', ...paragraphs.flatMap((p) => [p, '']), `— ${product}`, brand.appUrl, ''].join('\n');
  const e = escapeHtml;
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${e(brand.productName)}</title></head>
<body style="margin:0;padding:24px;background:#f5f5f7;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1d1d1f">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;padding:32px">
<tr><td style="font-size:20px;font-weight:600;padding-bottom:16px">${e(brand.productName)}</td></tr>
<tr><td style="font-size:15px;line-height:1.5">
<p>${e(greeting(name))}</p>
${paragraphs.map((p) => `<p>${e(p)}</p>`).join('\n')}
</td></tr>
<tr><td style="font-size:12px;color:#888;padding-top:24px"><a href="${e(brand.appUrl)}" style="color:#888">${e(brand.appUrl)}</a></td></tr>
</table>
</td></tr></table>
</body>
</html>
`;
  return { to, subject: plainLine(subject), text, html };
}

/**
 * The mail sent when a deletion is scheduled (ACCOUNT_DELETION_GRACE > 0): when it happens, and
 * that signing in before then keeps the account.
 *
 * @example
 * ctx.mail.dispatch('account_deletion_scheduled', async () => accountDeletionScheduledMail(brand(ctx), { to, name, deletesAt }));
 */
export function accountDeletionScheduledMail(brand: MailBrand, input: DeletionMailInput & { deletesAt: number }): MailMessage {
  const product = plainLine(brand.productName);
  return render(brand, input.to, `Your ${product} account will be deleted`, input.name, [
    `You asked to delete your ${product} account (${plainLine(input.to)}). Every session of it has been signed out.`,
    `It will be deleted on ${utcMinute(input.deletesAt)}, with everything ${product} holds about you.`,
    'Changed your mind? Sign in before then: signing in cancels the deletion. If you did not ask for this, sign in now and change your password.',
  ]);
}

/**
 * The confirmation sent once an account is deleted (at once, or when its grace period ends).
 *
 * @example
 * ctx.mail.dispatch('account_deleted', async () => accountDeletedMail(brand(ctx), { to: user.email, name: user.name }));
 */
export function accountDeletedMail(brand: MailBrand, input: DeletionMailInput): MailMessage {
  const product = plainLine(brand.productName);
  return render(brand, input.to, `Your ${product} account has been deleted`, input.name, [
    `Your ${product} account (${plainLine(input.to)}) has been deleted, with its sessions, sign-in methods and security history.`,
    `This is the last message you will receive from ${product} about it. You can create a new account with this address at any time.`,
  ]);
}
