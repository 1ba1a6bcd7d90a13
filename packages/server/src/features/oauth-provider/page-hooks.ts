/**
 * The pages oidc-provider renders itself: its error page (an authorization request it cannot
 * send back to the client, e.g. an unregistered redirect_uri), the RP-initiated logout
 * confirmation and the page after a logout. Plain, minimal HTML for now: the pages room (o3)
 * replaces these functions with its layout, branding and CSP. Everything interpolated is escaped.
 */
import type { KoaContextWithOIDC, ErrorOut } from 'oidc-provider';

/** HTML-escapes text for an element's content or a quoted attribute. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head><body><main>${body}</main></body></html>`;
}

/** oidc-provider's `renderError`: the error the browser cannot be redirected with. Never the stack. */
export async function renderError(ctx: KoaContextWithOIDC, out: ErrorOut, _error: unknown): Promise<void> {
  ctx.type = 'html';
  ctx.body = page(
    'Sign-in error',
    `<h1>Something went wrong</h1><p>${escapeHtml(out.error_description ?? out.error)}</p><p>Go back to the app and try again.</p>`,
  );
}

/** RP-initiated logout: `form` is oidc-provider's hidden form (id `op.logoutForm`, its own xsrf token). */
export async function logoutSource(ctx: KoaContextWithOIDC, form: string): Promise<void> {
  ctx.type = 'html';
  ctx.body = page(
    'Sign out',
    `<h1>Sign out?</h1>${form}<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button> <button type="submit" form="op.logoutForm">No, stay signed in</button>`,
  );
}

/** After a logout without a post_logout_redirect_uri. */
export async function postLogoutSuccessSource(ctx: KoaContextWithOIDC): Promise<void> {
  ctx.type = 'html';
  ctx.body = page('Signed out', '<h1>You are signed out</h1>');
}
