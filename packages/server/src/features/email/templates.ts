import type { MailMessage } from './mailer.js';

/** What every mail shows about the product: PRODUCT_NAME and APP_URL. */
export interface MailBrand {
  productName: string;
  appUrl: string;
}

export interface LinkMailInput {
  to: string;
  /** The user's display name; user input, so escaped in HTML and flattened in text. */
  name: string | null;
  /** The full link, token included. */
  link: string;
  validForMs: number;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for an HTML element or a double- or single-quoted attribute. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** One line of plain text: control characters (line breaks included) become spaces. */
export function plainLine(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

/** "24 hours", "30 minutes", "1 hour 30 minutes". */
export function describeDuration(ms: number): string {
  const totalMinutes = Math.max(1, Math.round(ms / 60_000));
  const days = Math.floor(totalMinutes / 1440);
  const hours = Math.floor((totalMinutes % 1440) / 60);
  const minutes = totalMinutes % 60;
  const unit = (n: number, word: string) => (n === 0 ? null : `${n} ${word}${n === 1 ? '' : 's'}`);
  // Whole days read better as hours up to two days ("24 hours", "48 hours").
  if (days > 0 && days <= 2 && minutes === 0) return unit(days * 24 + hours, 'hour')!;
  return [unit(days, 'day'), unit(hours, 'hour'), unit(minutes, 'minute')].filter(Boolean).join(' ');
}

interface LayoutInput {
  brand: MailBrand;
  name: string | null;
  intro: string;
  action: string;
  link: string;
  validFor: string;
  ignore: string;
}

function greeting(name: string | null): string {
  const n = name === null ? '' : plainLine(name).slice(0, 100);
  return n ? `Hello ${n},` : 'Hello,';
}

function renderText(p: LayoutInput): string {
  const product = plainLine(p.brand.productName);
  return [
    greeting(p.name),
    '',
    p.intro,
    '',
    `${p.action}:`,
    p.link,
    '',
    `This link works once and expires in ${p.validFor}.`,
    p.ignore,
    '',
    `— ${product}`,
    p.brand.appUrl,
    '',
  ].join('\n');
}

function renderHtml(p: LayoutInput): string {
  const e = escapeHtml;
  const product = e(p.brand.productName);
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${product}</title></head>
<body style="margin:0;padding:24px;background:#f5f5f7;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1d1d1f">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;padding:32px">
<tr><td style="font-size:20px;font-weight:600;padding-bottom:16px">${product}</td></tr>
<tr><td style="font-size:15px;line-height:1.5">
<p>${e(greeting(p.name))}</p>
<p>${e(p.intro)}</p>
<p style="padding:16px 0"><a href="${e(p.link)}" style="background:#0b57d0;color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:6px;display:inline-block">${e(p.action)}</a></p>
<p style="font-size:13px;color:#555">Or paste this link into your browser:<br><a href="${e(p.link)}" style="color:#0b57d0;word-break:break-all">${e(p.link)}</a></p>
<p style="font-size:13px;color:#555">This link works once and expires in ${e(p.validFor)}. ${e(p.ignore)}</p>
</td></tr>
<tr><td style="font-size:12px;color:#888;padding-top:24px"><a href="${e(p.brand.appUrl)}" style="color:#888">${e(p.brand.appUrl)}</a></td></tr>
</table>
</td></tr></table>
</body>
</html>
`;
}

function render(to: string, subject: string, p: LayoutInput): MailMessage {
  return { to, subject: plainLine(subject), text: renderText(p), html: renderHtml(p) };
}

/** The mail sent at registration and on request: a link to confirm the address. */
export function verificationMail(brand: MailBrand, input: LinkMailInput): MailMessage {
  return render(input.to, `Confirm your email address for ${brand.productName}`, {
    brand,
    name: input.name,
    intro: `Please confirm that ${input.to} is your email address for ${plainLine(brand.productName)}.`,
    action: 'Confirm email address',
    link: input.link,
    validFor: describeDuration(input.validForMs),
    ignore: 'If you did not create an account, you can ignore this message.',
  });
}

/** The mail sent by "forgot password": a link to choose a new one. */
export function passwordResetMail(brand: MailBrand, input: LinkMailInput): MailMessage {
  return render(input.to, `Reset your ${brand.productName} password`, {
    brand,
    name: input.name,
    intro: `Someone asked to reset the password of the ${plainLine(brand.productName)} account for ${input.to}. Choosing a new password signs you out on every device.`,
    action: 'Choose a new password',
    link: input.link,
    validFor: describeDuration(input.validForMs),
    ignore: 'If you did not ask for this, ignore this message: your password stays as it is.',
  });
}

/** The mail of an admin's invitation: a link to choose a password for the account made for the reader. */
export function inviteMail(brand: MailBrand, input: LinkMailInput): MailMessage {
  return render(input.to, `You are invited to ${brand.productName}`, {
    brand,
    name: input.name,
    intro: `An administrator of ${plainLine(brand.productName)} has created an account for ${input.to}. Choose a password to start using it, then sign in.`,
    action: 'Choose your password',
    link: input.link,
    validFor: describeDuration(input.validForMs),
    ignore: 'If you did not expect this invitation, you can ignore this message: nobody can sign in to the account without choosing a password through this link.',
  });
}

/** A change to a user's second factors, as the notice mail names it (docs/factors.md, "Mails"). */
export type FactorChange =
  | 'totp_added'
  | 'totp_removed'
  | 'passkey_added'
  | 'passkey_removed'
  | 'recovery_codes_regenerated'
  | 'factors_reset_by_admin';

export interface FactorNoticeInput {
  to: string;
  /** The user's display name; user input, so escaped in HTML and flattened in text. */
  name: string | null;
  change: FactorChange;
  /** The passkey's name (user input) for passkey changes. */
  passkeyName?: string | undefined;
  /** When it happened (ms since the epoch); shown in UTC. */
  at: number;
}

function factorSentence(input: FactorNoticeInput, product: string): { subject: string; what: string } {
  const passkey = input.passkeyName ? `a passkey ("${plainLine(input.passkeyName).slice(0, 64)}")` : 'a passkey';
  switch (input.change) {
    case 'totp_added':
      return { subject: 'An authenticator app was added to your account', what: `An authenticator app was added as a second factor to your ${product} account.` };
    case 'totp_removed':
      return { subject: 'The authenticator app was removed from your account', what: `The authenticator app was removed from your ${product} account, with its recovery codes.` };
    case 'passkey_added':
      return { subject: 'A passkey was added to your account', what: `${passkey[0]!.toUpperCase()}${passkey.slice(1)} was added to your ${product} account.` };
    case 'passkey_removed':
      return { subject: 'A passkey was removed from your account', what: `${passkey[0]!.toUpperCase()}${passkey.slice(1)} was removed from your ${product} account.` };
    case 'recovery_codes_regenerated':
      return { subject: 'New recovery codes were created for your account', what: `New recovery codes were created for your ${product} account; the old ones no longer work.` };
    case 'factors_reset_by_admin':
      return {
        subject: 'An administrator reset your second factors',
        what: `An administrator of ${product} removed the second factors (authenticator app, recovery codes or passkeys) of your account. You can add them again after you sign in.`,
      };
  }
}

/**
 * The notice sent when a second factor is added or removed or the recovery codes are replaced:
 * what changed and when, never a secret, code or link with a token. Its one link is APP_URL.
 */
export function factorNoticeMail(brand: MailBrand, input: FactorNoticeInput): MailMessage {
  const product = plainLine(brand.productName);
  const { subject, what } = factorSentence(input, product);
  const when = `${new Date(input.at).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
  const warning = 'If this was not you, change your password now and contact your administrator: someone else may be signed in to your account.';
  const text = [greeting(input.name), '', what, `When: ${when}`, '', warning, '', `— ${product}`, brand.appUrl, ''].join('\n');
  const e = escapeHtml;
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${e(brand.productName)}</title></head>
<body style="margin:0;padding:24px;background:#f5f5f7;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1d1d1f">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;padding:32px">
<tr><td style="font-size:20px;font-weight:600;padding-bottom:16px">${e(brand.productName)}</td></tr>
<tr><td style="font-size:15px;line-height:1.5">
<p>${e(greeting(input.name))}</p>
<p>${e(what)}</p>
<p style="font-size:13px;color:#555">When: ${e(when)}</p>
<p style="font-size:13px;color:#555">${e(warning)}</p>
</td></tr>
<tr><td style="font-size:12px;color:#888;padding-top:24px"><a href="${e(brand.appUrl)}" style="color:#888">${e(brand.appUrl)}</a></td></tr>
</table>
</td></tr></table>
</body>
</html>
`;
  return { to: input.to, subject: plainLine(`${subject} (${product})`), text, html };
}
