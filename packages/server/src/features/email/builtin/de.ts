/** The German mails (Sie-Form, as transactional mail of a service is written). */
import type { TemplateName } from '../template-names.js';
import { linkMail, noticeMail, type LanguageBasics, type TemplateSources } from './layout.js';

const b: LanguageBasics = { lang: 'de', hello: 'Hallo' };
const paste = 'Oder kopieren Sie diesen Link in Ihren Browser:';
// "{{valid_for}} lang gültig", not "läuft in … ab": the dative plural ("in 7 Tagen") is not the unit's nominative form Intl gives ("7 Tage").
const validity = 'Der Link funktioniert einmal und ist {{valid_for}} lang gültig.';
const notYou =
  'Falls Sie das nicht waren, ändern Sie jetzt Ihr Passwort und wenden Sie sich an Ihren Administrator: Möglicherweise ist jemand anderes in Ihrem Konto angemeldet.';
const when = 'Zeitpunkt: {{when}}';
const passkey = '{{#passkey_name}}Ein Passkey („{{passkey_name}}“){{/passkey_name}}{{^passkey_name}}Ein Passkey{{/passkey_name}}';

export const de: Record<TemplateName, TemplateSources> = {
  verify_email: linkMail(b, {
    subject: 'Bestätigen Sie Ihre E-Mail-Adresse für {{product}}',
    intro: 'Bitte bestätigen Sie, dass {{email}} Ihre E-Mail-Adresse für {{product}} ist.',
    action: 'E-Mail-Adresse bestätigen',
    paste,
    validity,
    ignore: 'Falls Sie kein Konto angelegt haben, können Sie diese Nachricht ignorieren.',
  }),
  reset_password: linkMail(b, {
    subject: 'Setzen Sie Ihr Passwort für {{product}} zurück',
    intro: 'Jemand hat verlangt, das Passwort des {{product}}-Kontos für {{email}} zurückzusetzen. Wenn Sie ein neues Passwort wählen, werden Sie auf allen Geräten abgemeldet.',
    action: 'Neues Passwort wählen',
    paste,
    validity,
    ignore: 'Falls Sie das nicht verlangt haben, ignorieren Sie diese Nachricht: Ihr Passwort bleibt unverändert.',
  }),
  invite: linkMail(b, {
    subject: 'Sie sind zu {{product}} eingeladen',
    intro: 'Ein Administrator von {{product}} hat ein Konto für {{email}} angelegt. Wählen Sie ein Passwort, um es zu nutzen, und melden Sie sich dann an.',
    action: 'Passwort wählen',
    paste,
    validity,
    ignore: 'Falls Sie diese Einladung nicht erwartet haben, können Sie diese Nachricht ignorieren: Ohne ein über diesen Link gewähltes Passwort kann sich niemand bei dem Konto anmelden.',
  }),
  email_sign_in: linkMail(b, {
    subject: 'Bei {{product}} anmelden',
    intro: 'Jemand möchte sich als {{email}} bei {{product}} anmelden.',
    action: 'Anmelden',
    paste,
    code: { before: 'Oder geben Sie diesen Code auf der Anmeldeseite ein:', variable: 'code' },
    validity: 'Link und Code funktionieren zusammen nur einmal und sind {{valid_for}} lang gültig.',
    ignore: 'Falls Sie sich nicht anmelden wollten, ignorieren Sie diese Nachricht: Ohne sie kann sich niemand anmelden.',
  }),
  factor_totp_added: noticeMail(b, {
    subject: 'Eine Authenticator-App wurde Ihrem Konto hinzugefügt ({{product}})',
    paragraphs: ['Ihrem {{product}}-Konto wurde eine Authenticator-App als zweiter Faktor hinzugefügt.'],
    small: [when, notYou],
  }),
  factor_totp_removed: noticeMail(b, {
    subject: 'Die Authenticator-App wurde aus Ihrem Konto entfernt ({{product}})',
    paragraphs: ['Die Authenticator-App wurde samt ihren Wiederherstellungscodes aus Ihrem {{product}}-Konto entfernt.'],
    small: [when, notYou],
  }),
  factor_passkey_added: noticeMail(b, {
    subject: 'Ein Passkey wurde Ihrem Konto hinzugefügt ({{product}})',
    paragraphs: [`${passkey} wurde Ihrem {{product}}-Konto hinzugefügt.`],
    small: [when, notYou],
  }),
  factor_passkey_removed: noticeMail(b, {
    subject: 'Ein Passkey wurde aus Ihrem Konto entfernt ({{product}})',
    paragraphs: [`${passkey} wurde aus Ihrem {{product}}-Konto entfernt.`],
    small: [when, notYou],
  }),
  factor_recovery_codes_regenerated: noticeMail(b, {
    subject: 'Neue Wiederherstellungscodes für Ihr Konto ({{product}})',
    paragraphs: ['Für Ihr {{product}}-Konto wurden neue Wiederherstellungscodes erstellt; die alten gelten nicht mehr.'],
    small: [when, notYou],
  }),
  factor_reset_by_admin: noticeMail(b, {
    subject: 'Ein Administrator hat Ihre zweiten Faktoren zurückgesetzt ({{product}})',
    paragraphs: [
      'Ein Administrator von {{product}} hat die zweiten Faktoren (Authenticator-App, Wiederherstellungscodes oder Passkeys) Ihres Kontos entfernt. Nach der Anmeldung können Sie sie neu einrichten.',
    ],
    small: [when, notYou],
  }),
  identity_linked: noticeMail(b, {
    subject: '{{provider}} wurde mit Ihrem {{product}}-Konto verknüpft',
    paragraphs: [
      'Ein {{provider}}-Konto{{#provider_email}} ({{provider_email}}){{/provider_email}} wurde mit Ihrem {{product}}-Konto verknüpft: Sie können sich jetzt auch damit anmelden.',
      'Falls Sie das nicht waren, melden Sie sich an, entfernen Sie die Verknüpfung unter den Anmeldemethoden Ihres Kontos und ändern Sie Ihr Passwort.',
    ],
    small: [],
  }),
  account_deletion_scheduled: noticeMail(b, {
    subject: 'Ihr {{product}}-Konto wird gelöscht',
    paragraphs: [
      'Sie haben die Löschung Ihres {{product}}-Kontos ({{email}}) beantragt. Es wird am {{deletes_at}} mit allen Daten gelöscht; alle Geräte wurden abgemeldet.',
      'Haben Sie es sich anders überlegt? Melden Sie sich bis dahin an: Die Anmeldung bricht die Löschung ab.',
    ],
    small: ['Falls Sie das nicht beantragt haben, melden Sie sich jetzt an, um Ihr Konto zu behalten, und ändern Sie dann Ihr Passwort.'],
  }),
  account_deleted: noticeMail(b, {
    subject: 'Ihr {{product}}-Konto wurde gelöscht',
    paragraphs: ['Ihr {{product}}-Konto ({{email}}) wurde wie gewünscht mit allen Daten gelöscht. Danke, dass Sie {{product}} genutzt haben.'],
    small: ['Falls Sie das nicht beantragt haben, wenden Sie sich an Ihren Administrator.'],
  }),
};
