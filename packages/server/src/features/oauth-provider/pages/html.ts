/**
 * HTML for the provider's pages, built so that no value can be interpolated unescaped: the `html`
 * tag escapes every `${value}` unless it is already `Html` (the output of another `html`, or a
 * fragment marked with `trustedHtml` by code that produced it itself).
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for an element's content or a quoted attribute value. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

/** A piece of markup that is safe to insert as it is. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** What a `${}` of the `html` tag may hold: text (escaped), markup, nothing, or a list of those. */
export type Interpolation = string | number | Html | null | undefined | false | readonly Interpolation[];

function render(value: Interpolation): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/**
 * The template tag of every page.
 *
 * @example
 * html`<p>${clientName}</p>` // clientName '<b>' gives <p>&lt;b&gt;</p>
 */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/**
 * Marks markup made elsewhere as safe: only for what oidc-provider renders itself (its logout
 * form, whose values it escapes) and for the pages' own constant script and stylesheet.
 */
export function trustedHtml(markup: string): Html {
  return new Html(markup);
}
