/**
 * Every mail Latchkey sends, by template name, with the variables each may use (docs/email.md,
 * "Languages and templates"). An operator's template is checked against this list at start-up:
 * an unknown name or variable, or a missing required one, stops the server.
 */

/** How a variable's value is given and shown: text as is, a duration ("24 hours"), a time ("2026-12-05 16:10 UTC"). */
export type VariableKind = 'text' | 'duration' | 'time';

export interface TemplateSpec {
  /** The template's own variables (the common ones, COMMON_VARIABLES, come on top). */
  readonly variables: Readonly<Record<string, VariableKind>>;
  /** Variables the text and HTML parts must each use: a mail without them is useless (its link, its code). */
  readonly required: readonly string[];
}

/** Variables every template may use: the product (PRODUCT_NAME), the web app (APP_URL) and the recipient's address. */
export const COMMON_VARIABLES: Readonly<Record<string, VariableKind>> = { product: 'text', app_url: 'text', email: 'text' };

const link = { name: 'text', link: 'text', valid_for: 'duration' } as const;
const factor = { name: 'text', when: 'time' } as const;

export const TEMPLATE_SPECS = {
  verify_email: { variables: link, required: ['link'] },
  reset_password: { variables: link, required: ['link'] },
  invite: { variables: link, required: ['link'] },
  email_sign_in: { variables: { ...link, code: 'text' }, required: ['link', 'code'] },
  factor_totp_added: { variables: factor, required: [] },
  factor_totp_removed: { variables: factor, required: [] },
  factor_passkey_added: { variables: { ...factor, passkey_name: 'text' }, required: [] },
  factor_passkey_removed: { variables: { ...factor, passkey_name: 'text' }, required: [] },
  factor_recovery_codes_regenerated: { variables: factor, required: [] },
  factor_reset_by_admin: { variables: factor, required: [] },
  identity_linked: { variables: { name: 'text', provider: 'text', provider_email: 'text' }, required: [] },
  account_deletion_scheduled: { variables: { name: 'text', deletes_at: 'time' }, required: [] },
  account_deleted: { variables: { name: 'text' }, required: [] },
} as const satisfies Record<string, TemplateSpec>;

export type TemplateName = keyof typeof TEMPLATE_SPECS;

export const TEMPLATE_NAMES = Object.keys(TEMPLATE_SPECS) as TemplateName[];

/** The parts of a template, and the file suffix of each in MAIL_TEMPLATES_DIR. */
export const TEMPLATE_PARTS = { subject: '.subject.txt', text: '.text.txt', html: '.html' } as const;
export type TemplatePart = keyof typeof TEMPLATE_PARTS;

export function isTemplateName(name: string): name is TemplateName {
  return Object.hasOwn(TEMPLATE_SPECS, name);
}

/** Every variable `template` may use, with its kind. */
export function variablesOf(template: TemplateName): Readonly<Record<string, VariableKind>> {
  return { ...COMMON_VARIABLES, ...TEMPLATE_SPECS[template].variables };
}

/** The variables a caller passes for `template` (the common ones are filled by the renderer). */
export type MailVars = Readonly<Record<string, string | number | null | undefined>>;
