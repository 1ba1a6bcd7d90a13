import { html, type Html } from './html.js';

/** The hidden CSRF field of every form (its token is bound to the interaction). */
export function csrfField(token: string): Html {
  return html`<input type="hidden" name="csrf" value="${token}">`;
}

/**
 * A form's failure: announced by screen readers (role=alert), referenced by the inputs it is
 * about through aria-describedby. Empty when there is none (the passkey script fills it).
 */
export function alertBox(id: string, message: string | null | undefined): Html {
  return html`<div class="alert" id="${id}" role="alert" aria-live="assertive">${message ?? ''}</div>`;
}

/** A labelled input; `describedBy` names the alert that explains a failure (set aria-invalid with it). */
export function field(options: {
  id: string;
  name: string;
  label: string;
  type: 'email' | 'password' | 'text';
  autocomplete: string;
  value?: string | null;
  invalidBy?: string | null;
  inputmode?: 'numeric' | 'text';
  autofocus?: boolean;
  pattern?: string;
  maxlength?: number;
}): Html {
  const o = options;
  return html`<label for="${o.id}">${o.label}</label>
<input id="${o.id}" name="${o.name}" type="${o.type}" autocomplete="${o.autocomplete}" required${o.value ? html` value="${o.value}"` : null}${
    o.invalidBy ? html` aria-invalid="true" aria-describedby="${o.invalidBy}"` : null
  }${o.inputmode ? html` inputmode="${o.inputmode}"` : null}${o.pattern ? html` pattern="${o.pattern}"` : null}${
    o.maxlength ? html` maxlength="${o.maxlength}"` : null
  }${o.autofocus ? html` autofocus` : null}>`;
}
