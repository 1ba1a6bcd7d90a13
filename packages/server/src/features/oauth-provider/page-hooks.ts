/**
 * The pages oidc-provider renders itself, in the pages' layout, brand and CSP: its error page (an
 * authorization request it cannot send back to the client, e.g. an unregistered redirect_uri or
 * an unknown client), the RP-initiated logout confirmation and the page after a logout.
 */
import type { ErrorOut, KoaContextWithOIDC } from 'oidc-provider';
import type { OAuthBrandingConfig } from '../../config.js';
import { renderError as renderErrorPage, type ErrorView } from './pages/error.js';
import { renderLoggedOut, renderLogoutConfirm } from './pages/logout.js';
import { writeKoaPage } from './pages/send.js';

/** What the user reads for the errors oidc-provider cannot redirect with; the OAuth code is the reference. */
function errorView(out: ErrorOut): ErrorView {
  const reference = typeof out.error === 'string' ? out.error : null;
  const description = typeof out.error_description === 'string' ? out.error_description : '';
  if (/redirect_uri/i.test(description) || reference === 'invalid_redirect_uri') {
    return {
      title: 'This app’s sign-in link is not valid',
      message: 'The app sent you here with a return address that is not registered for it, so you were not sent back to it. Go back to the app and tell its developers.',
      reference,
    };
  }
  if (reference === 'invalid_client') {
    return { title: 'This app is not known here', message: 'The app that sent you here is not registered. Go back to the app and tell its developers.', reference };
  }
  if (reference === 'invalid_request' || reference === 'unsupported_response_type' || reference === 'invalid_scope') {
    return { title: 'This sign-in request is not valid', message: 'The app sent a request that cannot be answered. Go back to the app and try again; if it happens again, tell its developers.', reference };
  }
  return { title: 'Something went wrong', message: 'This sign-in could not be completed. Go back to the app and try again.', reference };
}

/** The Koa context's client name, when oidc-provider knows the client of this request. */
function clientName(koa: KoaContextWithOIDC): string | null {
  const name = koa.oidc?.client?.clientName;
  return typeof name === 'string' && name !== '' ? name : null;
}

/**
 * oidc-provider's page hooks, rendering with `brand`.
 *
 * @example
 * const hooks = pageHooks(ctx.config.oauthBranding);
 * new Provider(issuer, { renderError: hooks.renderError, features: { rpInitiatedLogout: { enabled: true, logoutSource: hooks.logoutSource, postLogoutSuccessSource: hooks.postLogoutSuccessSource } } });
 */
export function pageHooks(brand: OAuthBrandingConfig) {
  return {
    /** The error the browser cannot be redirected with. Never the stack or the request's details. */
    async renderError(koa: KoaContextWithOIDC, out: ErrorOut, _error: unknown): Promise<void> {
      writeKoaPage(koa, brand, koa.status >= 400 ? koa.status : 400, (page) => renderErrorPage(page, errorView(out)));
    },
    /** RP-initiated logout: `form` is oidc-provider's hidden form (id `op.logoutForm`, its own xsrf token). */
    async logoutSource(koa: KoaContextWithOIDC, form: string): Promise<void> {
      writeKoaPage(koa, brand, 200, (page) => renderLogoutConfirm(page, { form, clientName: clientName(koa) }));
    },
    /** After a logout without a post_logout_redirect_uri. */
    async postLogoutSuccessSource(koa: KoaContextWithOIDC): Promise<void> {
      writeKoaPage(koa, brand, 200, (page) => renderLoggedOut(page, { clientName: clientName(koa) }));
    },
  };
}
