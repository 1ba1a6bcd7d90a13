/**
 * `latchkey mail preview TEMPLATE [--locale L] [--format text|html|subject]`: prints a mail as it
 * would be sent, with sample values, from the same templates the server uses (MAIL_TEMPLATES_DIR
 * included, checked as at start-up). No database, no mail server.
 */
import type { Config } from '../../config.js';
import { UsageError, parseCommandArgs } from '../../lib/cli-args.js';
import { loadMailTemplatesOrFail } from './load-templates.js';
import { renderMail } from './render.js';
import { isTemplateName, TEMPLATE_NAMES, type MailVars } from './template-names.js';

export const MAIL_USAGE = `usage: latchkey mail preview TEMPLATE [--locale LOCALE] [--format text|html|subject]
templates: ${TEMPLATE_NAMES.join(', ')}`;

const FORMATS = ['text', 'html', 'subject'] as const;

const LINK_PATHS: Record<string, { path: string; ttl: (c: Config) => number }> = {
  verify_email: { path: 'verify-email', ttl: (c) => c.mail.verifyEmailTtlMs },
  reset_password: { path: 'reset-password', ttl: (c) => c.mail.resetTokenTtlMs },
  invite: { path: 'accept-invite', ttl: (c) => c.mail.inviteTtlMs },
  email_sign_in: { path: 'email-sign-in', ttl: () => 15 * 60_000 },
};

/** Values that look like the real ones: a link below APP_URL, a code, lifetimes of the configuration. */
function sampleVars(config: Config, template: string, at: number): MailVars {
  const linked = LINK_PATHS[template];
  return {
    name: 'Ada Lovelace',
    link: linked ? new URL(`${linked.path}?token=SAMPLE-TOKEN-not-a-real-one`, config.mail.appUrl + '/').toString() : null,
    valid_for: linked ? linked.ttl(config) : null,
    code: '123456',
    when: at,
    deletes_at: at + 7 * 86_400_000,
    passkey_name: 'MacBook Touch ID',
    provider: 'GitHub',
    provider_email: 'ada@github.example',
  };
}


/**
 * Runs `latchkey mail ...`; returns the exit code.
 *
 * @example
 * await runMailCommand(config, 'preview', ['invite', '--locale', 'de'], out);
 */
export async function runMailCommand(config: Config, sub: string | undefined, args: string[], out: (text: string) => void): Promise<number> {
  if (sub !== 'preview') throw new UsageError(sub ? `unknown command "mail ${sub}"` : 'which mail command?', MAIL_USAGE);
  const { values, positionals } = parseCommandArgs(
    args,
    { locale: { type: 'string' }, format: { type: 'string', default: 'text' } },
    MAIL_USAGE,
    { min: 1, max: 1 },
  );
  const template = positionals[0]!;
  if (!isTemplateName(template)) throw new UsageError(`unknown template "${template}"`, MAIL_USAGE);
  const format = values.format as (typeof FORMATS)[number];
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be text, html or subject, not "${values.format}"`, MAIL_USAGE);
  const mailTemplates = loadMailTemplatesOrFail(config.mail);
  const locale = values.locale ?? config.mail.defaultLocale;
  const resolved = mailTemplates.resolveLocale(locale);
  if (!resolved) throw new UsageError(`no templates for the locale "${locale}" (there are ${mailTemplates.locales.join(', ')})`, MAIL_USAGE);
  const vars = sampleVars(config, template, Date.now());
  const message = renderMail({ mailTemplates, config }, template, resolved, 'ada@example.com', vars);
  out(format === 'subject' ? message.subject : format === 'html' ? message.html : message.text);
  return 0;
}
