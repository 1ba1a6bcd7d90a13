/** The pages Latchkey's mails link to (packages/server features/email: APP_URL/<path>?token=…). */
export type MailLinkKind = 'verify-email' | 'reset-password' | 'accept-invite' | 'email-sign-in';

export interface MailLink {
  kind: MailLinkKind;
  /** The single-use token of the link; null when the URL had none. */
  token: string | null;
}

/**
 * Reads a mailed link once at start-up, before React renders. The links are real paths
 * (`/verify-email?token=…`, `/reset-password?token=…`, an admin's invitation
 * `/accept-invite?token=…`, an email sign-in's `/email-sign-in?token=…`) while the demo routes on
 * the hash, so the address is replaced at once by `#/verify-email`, `#/reset-password`,
 * `#/accept-invite` or `#/email-sign-in` on the same base path: the token leaves the address bar
 * and the history entry before anything else loads, and is kept in memory only. (index.html also
 * sets `referrer` to `no-referrer`, so no request ever carries the page's URL.) A reload of that
 * page therefore no longer has the token; the page says so.
 *
 * @example
 * const link = takeMailLink(); // { kind: 'verify-email', token: '…' } on /verify-email?token=…
 */
export function takeMailLink(location: Location = window.location, history: History = window.history): MailLink | null {
  const match = /^(.*\/)(verify-email|reset-password|accept-invite|email-sign-in)\/?$/.exec(location.pathname);
  if (!match) return null;
  const token = new URLSearchParams(location.search).get('token');
  history.replaceState(null, '', `${match[1]}#/${match[2]}`);
  return { kind: match[2] as MailLinkKind, token: token || null };
}
