import { html, trustedHtml } from './html.js';
import { renderDocument, type PageContext } from './layout.js';

export interface LogoutConfirmView {
  /**
   * oidc-provider's own form (`<form id="op.logoutForm" …>` with its xsrf field), as it renders it
   * with its values escaped: the buttons submit it by id.
   */
  readonly form: string;
  /** The app that asked to sign out, when known. */
  readonly clientName: string | null;
}

/** RP-initiated logout: "Sign out of <brand>?" with Sign out / Stay signed in. */
export function renderLogoutConfirm(page: PageContext, view: LogoutConfirmView): string {
  const body = html`<h1>Sign out of ${page.brand.name}?</h1>
<p>${view.clientName ? html`${view.clientName} asked to sign you out.` : html`An app asked to sign you out.`} Signing out here ends your ${page.brand.name} session in this browser.</p>
${trustedHtml(view.form)}
<div class="actions"><button type="submit" form="op.logoutForm" class="secondary">Stay signed in</button><button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Sign out</button></div>`;
  return renderDocument(page, { title: 'Sign out', body });
}

export interface LoggedOutView {
  readonly clientName: string | null;
}

/** After an RP-initiated logout that had no post_logout_redirect_uri to go back to. */
export function renderLoggedOut(page: PageContext, view: LoggedOutView): string {
  const body = html`<h1>You are signed out</h1>
<p role="status">${view.clientName ? html`You signed out of ${page.brand.name} from ${view.clientName}.` : html`You signed out of ${page.brand.name}.`} You can close this window.</p>`;
  return renderDocument(page, { title: 'Signed out', body });
}
