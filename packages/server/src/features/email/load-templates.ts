import { ConfigError, type MailConfig } from '../../config.js';
import { loadMailTemplates, TemplateLoadError, type MailTemplates } from './template-catalog.js';

/**
 * The templates of MAIL_TEMPLATES_DIR and DEFAULT_LOCALE, or a ConfigError that names the
 * variable, the file and the problem ("MAIL_TEMPLATES_DIR: /etc/latchkey/mail/de/invite.html:
 * unknown variable {{token}}; ..."): what start-up, `latchkey doctor` and `latchkey mail
 * preview` report.
 *
 * @example
 * const templates = loadMailTemplatesOrFail(config.mail);
 */
export function loadMailTemplatesOrFail(mail: Pick<MailConfig, 'mailTemplatesDir' | 'defaultLocale'>): MailTemplates {
  try {
    return loadMailTemplates(mail.mailTemplatesDir, mail.defaultLocale);
  } catch (err) {
    if (!(err instanceof TemplateLoadError)) throw err;
    throw new ConfigError(err.variable, err.message);
  }
}
