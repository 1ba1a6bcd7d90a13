import type { OAuthBrandingConfig } from '../../../config.js';
import { html, trustedHtml, type Html } from './html.js';

/** What every page is rendered with: the brand and this response's CSP nonce. */
export interface PageContext {
  readonly brand: OAuthBrandingConfig;
  readonly nonce: string;
}

/** A page's own parts; the layout adds the document, the brand and the stylesheet. */
export interface PageParts {
  /** The page's title, before " – <brand>". */
  readonly title: string;
  readonly body: Html;
  /** A script of the page (constant source, nonce'd here), or none. */
  readonly script?: string;
}

/** Relative luminance (WCAG 2) of a validated `#rgb` / `#rrggbb` colour. */
function luminance(hex: string): number {
  const digits = hex.length === 4 ? [...hex.slice(1)].map((d) => d + d) : [hex.slice(1, 3), hex.slice(3, 5), hex.slice(5, 7)];
  const [r, g, b] = digits.map((d) => {
    const c = Number.parseInt(d, 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** Black or white text on `background`, whichever contrasts more (WCAG contrast ratio). */
export function textOn(background: string): '#000000' | '#ffffff' {
  const l = luminance(background);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#000000' : '#ffffff';
}

/**
 * The stylesheet: one card, readable type, visible focus, the brand's colours as custom
 * properties (only validated hex colours reach it). Restyling: docs/oauth-provider.md.
 */
function stylesheet(brand: OAuthBrandingConfig): string {
  return `:root{--brand:${brand.color};--on-brand:${textOn(brand.color)};--page:${brand.background};--on-page:${textOn(brand.background)};--text:#1f2328;--muted:#59636e;--border:#d1d9e0;--danger:#b42318}
*{box-sizing:border-box}
html{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--text);background:var(--page)}
body{margin:0;min-height:100vh;display:flex;align-items:flex-start;justify-content:center;padding:2rem 1rem}
main{width:100%;max-width:26rem;background:#fff;border:1px solid var(--border);border-radius:.75rem;padding:1.5rem 1.5rem 1.25rem}
header.brand{display:flex;align-items:center;gap:.6rem;margin-bottom:1rem;font-weight:600}
header.brand img{max-height:2.5rem;max-width:10rem}
h1{font-size:1.35rem;line-height:1.3;margin:0 0 .75rem}
p{margin:.5rem 0}
.muted{color:var(--muted);font-size:.925rem}
form{margin:1rem 0 0}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=email],input[type=password],input[type=text]{display:block;width:100%;padding:.6rem .7rem;font:inherit;border:1px solid #8c959f;border-radius:.4rem;background:#fff;color:var(--text)}
input[aria-invalid=true]{border-color:var(--danger)}
button,.button{display:block;width:100%;margin:.75rem 0 0;padding:.65rem 1rem;font:inherit;font-weight:600;text-align:center;text-decoration:none;border-radius:.4rem;border:1px solid var(--brand);background:var(--brand);color:var(--on-brand);cursor:pointer}
button.secondary,.button.secondary{background:#fff;color:var(--text);border-color:#8c959f}
.actions{display:flex;gap:.75rem}
.actions button{flex:1}
a{color:var(--brand)}
:focus-visible{outline:3px solid var(--brand);outline-offset:2px}
button:focus-visible,.button:focus-visible{outline-color:var(--text)}
.alert{border:1px solid var(--danger);color:var(--danger);background:#fef3f2;border-radius:.4rem;padding:.6rem .75rem;margin:.75rem 0}
.field-error{color:var(--danger);font-size:.925rem;margin:.25rem 0 0}
.alert:empty{display:none}
.divider{display:flex;align-items:center;gap:.75rem;color:var(--muted);font-size:.875rem;margin:1.25rem 0 .25rem}
.divider::before,.divider::after{content:"";flex:1;border-top:1px solid var(--border)}
.client{display:flex;align-items:center;gap:.75rem;margin:0 0 .5rem}
.client img{width:3rem;height:3rem;object-fit:contain;border-radius:.4rem}
ul.scopes{padding-left:1.25rem;margin:.5rem 0}
ul.scopes li{margin:.25rem 0}
footer{margin-top:1.25rem;color:var(--muted);font-size:.875rem}
[hidden]{display:none!important}`;
}

/**
 * The whole document of a page: language, viewport, title, brand header, nonce'd stylesheet (and
 * script). Every text in it was escaped by `html`.
 *
 * @example
 * renderDocument({ brand, nonce }, { title: 'Sign in', body: html`<h1>Sign in</h1>` });
 */
export function renderDocument(page: PageContext, parts: PageParts): string {
  const { brand, nonce } = page;
  const logo = brand.logoUrl ? html`<img src="${brand.logoUrl}" alt="">` : null;
  const script = parts.script ? html`<script nonce="${nonce}">${trustedHtml(parts.script)}</script>` : null;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${parts.title} – ${brand.name}</title>
<style nonce="${nonce}">${trustedHtml(stylesheet(brand))}</style>
</head>
<body>
<main>
<header class="brand">${logo}<span>${brand.name}</span></header>
${parts.body}
</main>
${script}
</body>
</html>
`.value;
}
