import { html } from './html.js';
import { renderDocument, type PageContext } from './layout.js';
import { PASSKEY_SCRIPT } from './passkey-script.js';
import { alertBox, csrfField, field } from './parts.js';

/** A social provider's button: its display name and the start URL that comes back to this interaction. */
export interface SocialButton {
  readonly name: string;
  readonly href: string;
}

export interface SignInView {
  /** The interaction's path (`/oauth/interaction/<uid>`, under the mount prefix); the forms post below it. */
  readonly action: string;
  /** The mount prefix of Latchkey's own routes ('' or `/auth-server`), for the passkey script's calls. */
  readonly apiPrefix: string;
  readonly csrf: string;
  /** The app that asked, when known. */
  readonly clientName: string | null;
  /** What the user typed, given back after a failure. */
  readonly email?: string | null;
  /** Why the last attempt failed, in words for the user. */
  readonly error?: string | null;
  /** A note above the form (e.g. after a code was sent). */
  readonly notice?: string | null;
  /** Passkey sign-in offered (WebAuthn configured). */
  readonly passkeys: boolean;
  readonly social: readonly SocialButton[];
  /** EMAIL_SIGN_IN: the "email me a code" form. */
  readonly emailSignIn: boolean;
}

/**
 * The sign-in step: email and password, then the other ways (passkey, social providers, a code
 * by mail), then a way back to the app.
 *
 * @example
 * renderSignIn({ brand, nonce }, { action: '/oauth/interaction/abc', apiPrefix: '', csrf, clientName: 'Shop', passkeys: true, social: [], emailSignIn: true });
 */
export function renderSignIn(page: PageContext, view: SignInView): string {
  const invalid = view.error ? 'sign-in-error' : null;
  const heading = view.clientName ? html`Sign in to continue to ${view.clientName}` : html`Sign in`;
  const passkey = view.passkeys
    ? html`<form id="passkey-form" method="post" action="${view.action}/token">${csrfField(view.csrf)}<input type="hidden" name="access_token" value="" data-passkey-result>
<button type="button" class="secondary" hidden data-passkey data-form="passkey-form" data-options="${view.apiPrefix}/auth/passkeys/login/options" data-verify="${view.apiPrefix}/auth/passkeys/login/verify" aria-describedby="passkey-error">Sign in with a passkey</button>
${alertBox('passkey-error', null)}</form>`
    : null;
  const social = view.social.map((s) => html`<a class="button secondary" href="${s.href}">Continue with ${s.name}</a>`);
  const emailCode = view.emailSignIn
    ? html`<form method="post" action="${view.action}/email">${csrfField(view.csrf)}
${field({ id: 'code-email', name: 'email', label: 'Email', type: 'email', autocomplete: 'email', value: view.email })}
<button type="submit" class="secondary">Email me a sign-in code</button></form>`
    : null;
  const others = passkey || social.length > 0 || emailCode ? html`<div class="divider">or</div>${passkey}${social}${emailCode}` : null;
  const body = html`<h1>${heading}</h1>
${view.notice ? html`<p class="muted" role="status">${view.notice}</p>` : null}
${alertBox('sign-in-error', view.error)}
<form method="post" action="${view.action}/login">${csrfField(view.csrf)}
${field({ id: 'email', name: 'email', label: 'Email', type: 'email', autocomplete: 'username webauthn', value: view.email, invalidBy: invalid, autofocus: true })}
${field({ id: 'password', name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', invalidBy: invalid })}
<button type="submit">Sign in</button>
</form>
${others}
<form method="post" action="${view.action}/abort">${csrfField(view.csrf)}<button type="submit" class="secondary">Cancel${
    view.clientName ? html` and go back to ${view.clientName}` : null
  }</button></form>`;
  return renderDocument(page, { title: 'Sign in', body, script: view.passkeys ? PASSKEY_SCRIPT : undefined });
}

export interface EmailCodeView {
  readonly action: string;
  readonly csrf: string;
  /** Where the code went. */
  readonly email: string;
  readonly error?: string | null;
}

/** The code step of an email sign-in: the code from the mail, or back to the other ways. */
export function renderEmailCode(page: PageContext, view: EmailCodeView): string {
  const invalid = view.error ? 'code-error' : null;
  const body = html`<h1>Check your email</h1>
<p>If an account exists for <strong>${view.email}</strong>, we sent it a sign-in code. Enter it here.</p>
${alertBox('code-error', view.error)}
<form method="post" action="${view.action}/email/verify">${csrfField(view.csrf)}<input type="hidden" name="email" value="${view.email}">
${field({ id: 'code', name: 'code', label: 'Sign-in code', type: 'text', autocomplete: 'one-time-code', inputmode: 'numeric', invalidBy: invalid, autofocus: true, maxlength: 64 })}
<button type="submit">Sign in</button>
</form>
<p class="muted"><a href="${view.action}">Use another way to sign in</a></p>`;
  return renderDocument(page, { title: 'Enter your sign-in code', body });
}
