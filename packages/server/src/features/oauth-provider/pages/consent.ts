import { html } from './html.js';
import { renderDocument, type PageContext } from './layout.js';
import { csrfField } from './parts.js';
import { describeScope } from './scopes.js';

export interface ConsentView {
  readonly action: string;
  readonly csrf: string;
  readonly client: {
    readonly name: string;
    /** The client's registered logo (https), or null. */
    readonly logoUri: string | null;
    /** The client's home page, or null. */
    readonly clientUri: string | null;
  };
  /** The scopes asked for that this user has not granted to the client yet. */
  readonly scopes: readonly string[];
  /** Who is signed in. */
  readonly userEmail: string;
  /** Where "Not you?" leads: this interaction's sign-in page. */
  readonly switchAccountHref: string;
}

/** Only a URL of these schemes becomes a link or an image: never `javascript:` and the like from a client's registration. */
function webUrl(value: string | null, schemes: readonly string[]): string | null {
  if (!value) return null;
  try {
    return schemes.includes(new URL(value).protocol) ? value : null;
  } catch {
    return null;
  }
}

/**
 * The consent step: which app, what it asks for in plain words, who is signed in; Allow or Deny.
 *
 * @example
 * renderConsent({ brand, nonce }, { action, csrf, client: { name: 'Shop', logoUri: null, clientUri: null }, scopes: ['openid', 'email'], userEmail: 'ada@example.com', switchAccountHref: `${action}?login=1` });
 */
export function renderConsent(page: PageContext, view: ConsentView): string {
  const { client } = view;
  const logo = webUrl(client.logoUri, ['https:']);
  const home = webUrl(client.clientUri, ['https:', 'http:']);
  const name = home ? html`<a href="${home}" rel="noopener noreferrer" target="_blank">${client.name}</a>` : html`<strong>${client.name}</strong>`;
  const scopes = view.scopes.map((s) => html`<li>${describeScope(s, page.brand.name)}</li>`);
  const body = html`<div class="client">${logo ? html`<img src="${logo}" alt="">` : null}<h1>${client.name} wants to use your ${page.brand.name} account</h1></div>
<p>Signed in as <strong>${view.userEmail}</strong>. <a href="${view.switchAccountHref}">Not you?</a></p>
${scopes.length > 0 ? html`<p>${name} will be able to:</p><ul class="scopes">${scopes}</ul>` : html`<p>${name} will know that you signed in.</p>`}
<p class="muted">You can revoke this access any time in your account settings.</p>
<form method="post" action="${view.action}/consent">${csrfField(view.csrf)}
<div class="actions"><button type="submit" name="decision" value="deny" class="secondary">Deny</button><button type="submit" name="decision" value="allow">Allow</button></div>
</form>`;
  return renderDocument(page, { title: `Allow ${client.name}?`, body });
}
