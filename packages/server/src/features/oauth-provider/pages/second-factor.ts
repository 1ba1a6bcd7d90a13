import { html } from './html.js';
import { renderDocument, type PageContext } from './layout.js';
import { PASSKEY_SCRIPT } from './passkey-script.js';
import { alertBox, csrfField, field } from './parts.js';

export interface SecondFactorView {
  readonly action: string;
  readonly apiPrefix: string;
  readonly csrf: string;
  /** The login's mfa_token: the forms carry it to POST …/mfa (it is good for MFA_CHALLENGE_TTL, for this login only). */
  readonly mfaToken: string;
  /** The factors the account has (`totp`, `recovery_code`, `passkey`), as POST /auth/login lists them. */
  readonly factors: readonly string[];
  readonly error?: string | null;
}

/**
 * The second step of a password (or social, or email) sign-in for an account with a second
 * factor: a code from the authenticator app, a recovery code, or a passkey.
 */
export function renderSecondFactor(page: PageContext, view: SecondFactorView): string {
  const invalid = view.error ? 'mfa-error' : null;
  const hidden = html`${csrfField(view.csrf)}<input type="hidden" name="mfa_token" value="${view.mfaToken}">`;
  const totp = view.factors.includes('totp')
    ? html`<form method="post" action="${view.action}/mfa">${hidden}
${field({ id: 'code', name: 'code', label: 'Code from your authenticator app', type: 'text', autocomplete: 'one-time-code', inputmode: 'numeric', pattern: '[0-9 ]*', maxlength: 10, invalidBy: invalid, autofocus: true })}
<button type="submit">Continue</button></form>`
    : null;
  const passkey = view.factors.includes('passkey')
    ? html`<form id="passkey-form" method="post" action="${view.action}/mfa">${hidden}<input type="hidden" name="passkey" value="" data-passkey-result>
<button type="button" class="secondary" hidden data-passkey data-form="passkey-form" data-options="${view.apiPrefix}/auth/mfa/passkey/options" data-mfa-token="${view.mfaToken}" aria-describedby="passkey-error">Use a passkey</button>
${alertBox('passkey-error', null)}</form>`
    : null;
  const recovery = view.factors.includes('recovery_code')
    ? html`<details${totp ? null : html` open`}><summary>Use a recovery code</summary>
<form method="post" action="${view.action}/mfa">${hidden}
${field({ id: 'recovery-code', name: 'recovery_code', label: 'Recovery code', type: 'text', autocomplete: 'off', maxlength: 64, invalidBy: invalid })}
<button type="submit" class="secondary">Continue with a recovery code</button></form></details>`
    : null;
  const body = html`<h1>Confirm it is you</h1>
<p>Your account has a second factor.</p>
${alertBox('mfa-error', view.error)}
${totp}${passkey}${recovery}
<form method="post" action="${view.action}/abort">${csrfField(view.csrf)}<button type="submit" class="secondary">Cancel</button></form>`;
  return renderDocument(page, { title: 'Second factor', body, script: passkey ? PASSKEY_SCRIPT : undefined });
}
