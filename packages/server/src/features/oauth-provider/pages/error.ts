import { html } from './html.js';
import { renderDocument, type PageContext } from './layout.js';

export interface ErrorView {
  /** The heading: what went wrong, in words for the user. */
  readonly title: string;
  /** What to do now. */
  readonly message: string;
  /** A reference the user can quote to support (oidc-provider's error code, a request id), never a stack. */
  readonly reference?: string | null;
}

/** Why a page failed and what to do; no technical detail beyond a short reference. */
export function renderError(page: PageContext, view: ErrorView): string {
  const body = html`<h1>${view.title}</h1>
<p role="alert">${view.message}</p>
${view.reference ? html`<footer>Reference: <code>${view.reference}</code></footer>` : null}`;
  return renderDocument(page, { title: view.title, body });
}

/** The page of an unknown or expired interaction (400). */
export const EXPIRED_INTERACTION: ErrorView = Object.freeze({
  title: 'This sign-in request has expired',
  message: 'Go back to the app and try again.',
});

/** The page of a form posted without its CSRF token, or with another's (403). */
export const FORM_EXPIRED: ErrorView = Object.freeze({
  title: 'This form has expired',
  message: 'For your safety the form could not be sent. Go back to the app and start signing in again.',
});
