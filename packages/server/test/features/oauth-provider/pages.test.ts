import { describe, expect, it } from 'vitest';
import type { OAuthBrandingConfig } from '../../../src/config.js';
import { renderConsent } from '../../../src/features/oauth-provider/pages/consent.js';
import { EXPIRED_INTERACTION, renderError } from '../../../src/features/oauth-provider/pages/error.js';
import { contentSecurityPolicy, newNonce, pageHeaders } from '../../../src/features/oauth-provider/pages/headers.js';
import { escapeHtml, html } from '../../../src/features/oauth-provider/pages/html.js';
import { textOn, type PageContext } from '../../../src/features/oauth-provider/pages/layout.js';
import { renderLoggedOut, renderLogoutConfirm } from '../../../src/features/oauth-provider/pages/logout.js';
import { renderSecondFactor } from '../../../src/features/oauth-provider/pages/second-factor.js';
import { renderEmailCode, renderSignIn } from '../../../src/features/oauth-provider/pages/sign-in.js';

const brand: OAuthBrandingConfig = { name: 'Acme', logoUrl: '/logo.svg', color: '#1d4ed8', background: '#f4f5f7' };
const page = (): PageContext => ({ brand, nonce: newNonce() });

/** A value that breaks out of an element, a double- or single-quoted attribute, and a URL, if it is not escaped. */
const EVIL = `"'><script>alert(1)</script><img src=x onerror=alert(2)>&amp;\``;

/** Every page, with EVIL in every text field it takes. */
function everyPage(ctx: PageContext, value: string): Record<string, string> {
  const action = `/oauth/interaction/${value}`;
  return {
    signIn: renderSignIn(ctx, {
      action,
      apiPrefix: value,
      csrf: value,
      clientName: value,
      email: value,
      error: value,
      notice: value,
      passkeys: true,
      social: [{ name: value, href: value }],
      emailSignIn: true,
    }),
    emailCode: renderEmailCode(ctx, { action, csrf: value, email: value, error: value }),
    secondFactor: renderSecondFactor(ctx, { action, apiPrefix: value, csrf: value, mfaToken: value, factors: ['totp', 'recovery_code', 'passkey'], error: value }),
    consent: renderConsent(ctx, {
      action,
      csrf: value,
      client: { name: value, logoUri: `https://cdn.example/${value}`, clientUri: `https://app.example/${value}` },
      scopes: ['openid', 'profile', value],
      userEmail: value,
      switchAccountHref: value,
    }),
    error: renderError(ctx, { title: value, message: value, reference: value }),
    logoutConfirm: renderLogoutConfirm(ctx, { form: '<form id="op.logoutForm" method="post" action="/oauth/session/end/confirm"></form>', clientName: value }),
    loggedOut: renderLoggedOut(ctx, { clientName: value }),
  };
}

describe('escaping', () => {
  it('escapes & < > " \' and ` and nothing else', () => {
    expect(escapeHtml(`a&b<c>d"e'f\`g ü`)).toBe('a&amp;b&lt;c&gt;d&quot;e&#39;f&#96;g ü');
    expect(html`<p title="${'"x'}">${['<a>', 1, null, false]}</p>`.value).toBe('<p title="&quot;x">&lt;a&gt;1</p>');
  });

  it('lets no markup through any field of any page: client name, logo and home page, scopes, email, errors, brand', () => {
    const evilBrand: OAuthBrandingConfig = { name: EVIL, logoUrl: `https://cdn.example/${EVIL}`, color: '#000', background: '#fff' };
    const ctx: PageContext = { brand: evilBrand, nonce: newNonce() };
    for (const [name, out] of Object.entries(everyPage(ctx, EVIL))) {
      expect(out, name).not.toContain('<script>alert');
      expect(out, name).not.toContain('<img src=x');
      expect(out, name).not.toMatch(/"'>/);
      expect(out, name).toContain('&quot;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
      // The only scripts and stylesheets are the page's own, each with this response's nonce.
      for (const tag of out.match(/<(script|style)\b[^>]*>/g) ?? []) expect(tag, name).toBe(tag.startsWith('<script') ? `<script nonce="${ctx.nonce}">` : `<style nonce="${ctx.nonce}">`);
      // No inline handler or javascript: URL anywhere (the CSP would block them; they must not be there at all).
      // The markup without the page's own script and with every (escaped) attribute value emptied:
      // what is left are tags and attribute names, and text, where no `<` can be unescaped.
      const markup = out.replace(/<script nonce="[^"]+">[\s\S]*?<\/script>/g, '').replace(/="[^"]*"/g, '=""');
      expect(markup, name).not.toMatch(/<[^>]*\son[a-z]+=/i);
      expect(out, name).not.toMatch(/javascript:/i);
    }
  });

  it('shows a client logo only from https: and links a client home page only from http(s):', () => {
    const out = renderConsent(page(), {
      action: '/oauth/interaction/u1',
      csrf: 't',
      client: { name: 'Shop', logoUri: 'javascript:alert(1)', clientUri: 'javascript:alert(2)' },
      scopes: ['openid'],
      userEmail: 'ada@example.com',
      switchAccountHref: '/oauth/interaction/u1?login=1',
    });
    expect(out).not.toContain('alert(');
    expect(out).toContain('<div class="client"><h1>');
    expect(out).toContain('<strong>Shop</strong>');
  });
});

describe('headers', () => {
  it('CSP: nonce for script and style, https and data images, self fetches, no base, no framing, and no form-action', () => {
    expect(contentSecurityPolicy('n0nce')).toBe(
      "default-src 'none'; script-src 'nonce-n0nce'; style-src 'nonce-n0nce'; img-src 'self' https: data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    expect(contentSecurityPolicy('n0nce')).not.toContain('form-action');
    expect(pageHeaders('n0nce')).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'x-frame-options': 'DENY',
      'referrer-policy': 'same-origin',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
  });

  it('a nonce is 16 random bytes, new every time', () => {
    const nonces = new Set(Array.from({ length: 50 }, newNonce));
    expect(nonces.size).toBe(50);
    for (const n of nonces) expect(Buffer.from(n, 'base64')).toHaveLength(16);
  });
});

describe('accessibility and content', () => {
  it('every page is an English document with a viewport, a title naming the brand, and a label for every visible input', () => {
    for (const [name, out] of Object.entries(everyPage(page(), 'ada@example.com'))) {
      expect(out, name).toMatch(/^<!doctype html>\n<html lang="en">/);
      expect(out, name).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
      expect(out, name).toMatch(/<title>[^<]+ – Acme<\/title>/);
      for (const m of out.matchAll(/<input id="([^"]+)"/g)) expect(out, `${name}: #${m[1]}`).toContain(`<label for="${m[1]}">`);
      expect(out.match(/<input (?![^>]*type="hidden")(?![^>]*id=)/g), `${name}: an input without id`).toBeNull();
    }
  });

  it('a failure is announced (role=alert) and tied to the inputs it is about (aria-describedby, aria-invalid)', () => {
    const out = renderSignIn(page(), { action: '/oauth/interaction/u1', apiPrefix: '', csrf: 't', clientName: 'Shop', error: 'Wrong email or password.', passkeys: false, social: [], emailSignIn: false });
    expect(out).toContain('<div class="alert" id="sign-in-error" role="alert" aria-live="assertive">Wrong email or password.</div>');
    expect(out).toMatch(/<input id="email"[^>]* aria-invalid="true" aria-describedby="sign-in-error"/);
    expect(out).toMatch(/<input id="password"[^>]* aria-invalid="true" aria-describedby="sign-in-error"/);
    const calm = renderSignIn(page(), { action: '/oauth/interaction/u1', apiPrefix: '', csrf: 't', clientName: null, passkeys: false, social: [], emailSignIn: false });
    expect(calm).not.toContain('aria-invalid="true"');
  });

  it('the sign-in page offers what is configured: passkey (script only then), each social provider, a code by mail', () => {
    const base = { action: '/lk/oauth/interaction/u1', apiPrefix: '/lk', csrf: 'tok', clientName: 'Shop' } as const;
    const bare = renderSignIn(page(), { ...base, passkeys: false, social: [], emailSignIn: false });
    expect(bare).not.toContain('<script');
    expect(bare).not.toContain('data-passkey');
    expect(bare).not.toContain('/email"');
    expect(bare).toContain('<form method="post" action="/lk/oauth/interaction/u1/login"><input type="hidden" name="csrf" value="tok">');
    const full = renderSignIn(page(), { ...base, passkeys: true, social: [{ name: 'GitHub', href: '/lk/auth/oauth/github/start?redirect_to=x' }], emailSignIn: true });
    expect(full).toContain('data-options="/lk/auth/passkeys/login/options" data-verify="/lk/auth/passkeys/login/verify"');
    // Hidden until the script finds WebAuthn: without JavaScript the page shows only what works.
    expect(full).toMatch(/<button type="button" class="secondary" hidden data-passkey/);
    expect(full).toContain('<a class="button secondary" href="/lk/auth/oauth/github/start?redirect_to=x">Continue with GitHub</a>');
    expect(full).toContain('action="/lk/oauth/interaction/u1/email"');
    expect(full.match(/name="csrf" value="tok"/g)).toHaveLength(4); // password, passkey, email code, cancel
  });

  it('the consent page names the app, the user, each scope in words (custom ones by name), Allow and Deny', () => {
    const out = renderConsent(page(), {
      action: '/oauth/interaction/u1',
      csrf: 't',
      client: { name: 'Shop', logoUri: 'https://shop.example/logo.png', clientUri: 'https://shop.example' },
      scopes: ['openid', 'email', 'offline_access', 'roles', 'orders:read'],
      userEmail: 'ada@example.com',
      switchAccountHref: '/oauth/interaction/u1?login=1',
    });
    expect(out).toContain('<h1>Shop wants to use your Acme account</h1>');
    expect(out).toContain('<img src="https://shop.example/logo.png" alt="">');
    expect(out).toContain('<a href="https://shop.example" rel="noopener noreferrer" target="_blank">Shop</a>');
    expect(out).toContain('Signed in as <strong>ada@example.com</strong>. <a href="/oauth/interaction/u1?login=1">Not you?</a>');
    for (const words of ['Know who you are', 'See your email address', 'Keep access while you are not using it', 'See your roles in Acme', 'Use “orders:read” on your behalf']) {
      expect(out).toContain(words);
    }
    expect(out).toContain('name="decision" value="deny"');
    expect(out).toContain('name="decision" value="allow"');
  });

  it('the second-factor step offers the account’s factors only', () => {
    const ctx = { action: '/oauth/interaction/u1', apiPrefix: '', csrf: 't', mfaToken: 'mfa.1' };
    const totpOnly = renderSecondFactor(page(), { ...ctx, factors: ['totp', 'recovery_code'] });
    expect(totpOnly).toContain('name="code"');
    expect(totpOnly).toContain('name="recovery_code"');
    expect(totpOnly).not.toContain('data-passkey');
    expect(totpOnly).not.toContain('<script');
    const passkeyOnly = renderSecondFactor(page(), { ...ctx, factors: ['passkey'] });
    expect(passkeyOnly).not.toContain('name="code"');
    expect(passkeyOnly).toContain('data-options="/auth/mfa/passkey/options" data-mfa-token="mfa.1"');
  });

  it('the error page says what to do and shows no stack', () => {
    const out = renderError(page(), EXPIRED_INTERACTION);
    expect(out).toContain('<h1>This sign-in request has expired</h1>');
    expect(out).toContain('Go back to the app and try again.');
    expect(out).not.toMatch(/at \w+ \(/);
  });

  it('brand: name, logo and colours; text on the brand colour is black or white, whichever contrasts more', () => {
    const out = renderError({ brand: { name: 'Acme', logoUrl: '/logo.svg', color: '#ffcc00', background: '#102030' }, nonce: 'n' }, EXPIRED_INTERACTION);
    expect(out).toContain('<header class="brand"><img src="/logo.svg" alt=""><span>Acme</span></header>');
    expect(out).toContain('--brand:#ffcc00;--on-brand:#000000;--page:#102030;--on-page:#ffffff');
    expect(textOn('#1d4ed8')).toBe('#ffffff');
    expect(textOn('#fff')).toBe('#000000');
    expect(textOn('#000')).toBe('#ffffff');
  });
});
