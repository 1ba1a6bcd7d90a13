/** The English mails (the default language). Wording changes here change what every English-speaking user reads. */
import type { TemplateName } from '../template-names.js';
import { linkMail, noticeMail, type LanguageBasics, type TemplateSources } from './layout.js';

const b: LanguageBasics = { lang: 'en', hello: 'Hello' };
const paste = 'Or paste this link into your browser:';
const validity = 'This link works once and expires in {{valid_for}}.';
const notYou = 'If this was not you, change your password now and contact your administrator: someone else may be signed in to your account.';
const when = 'When: {{when}}';
const passkey = '{{#passkey_name}}A passkey ("{{passkey_name}}"){{/passkey_name}}{{^passkey_name}}A passkey{{/passkey_name}}';

export const en: Record<TemplateName, TemplateSources> = {
  verify_email: linkMail(b, {
    subject: 'Confirm your email address for {{product}}',
    intro: 'Please confirm that {{email}} is your email address for {{product}}.',
    action: 'Confirm email address',
    paste,
    validity,
    ignore: 'If you did not create an account, you can ignore this message.',
  }),
  reset_password: linkMail(b, {
    subject: 'Reset your {{product}} password',
    intro: 'Someone asked to reset the password of the {{product}} account for {{email}}. Choosing a new password signs you out on every device.',
    action: 'Choose a new password',
    paste,
    validity,
    ignore: 'If you did not ask for this, ignore this message: your password stays as it is.',
  }),
  invite: linkMail(b, {
    subject: 'You are invited to {{product}}',
    intro: 'An administrator of {{product}} has created an account for {{email}}. Choose a password to start using it, then sign in.',
    action: 'Choose your password',
    paste,
    validity,
    ignore: 'If you did not expect this invitation, you can ignore this message: nobody can sign in to the account without choosing a password through this link.',
  }),
  email_sign_in: linkMail(b, {
    subject: 'Sign in to {{product}}',
    intro: 'Someone asked to sign in to {{product}} as {{email}}.',
    action: 'Sign in',
    paste,
    code: { before: 'Or enter this code on the sign-in page:', variable: 'code' },
    validity: 'The link and the code work once, together, and expire in {{valid_for}}.',
    ignore: 'If you did not ask to sign in, ignore this message: nobody can sign in without it.',
  }),
  factor_totp_added: noticeMail(b, {
    subject: 'An authenticator app was added to your account ({{product}})',
    paragraphs: ['An authenticator app was added as a second factor to your {{product}} account.'],
    small: [when, notYou],
  }),
  factor_totp_removed: noticeMail(b, {
    subject: 'The authenticator app was removed from your account ({{product}})',
    paragraphs: ['The authenticator app was removed from your {{product}} account, with its recovery codes.'],
    small: [when, notYou],
  }),
  factor_passkey_added: noticeMail(b, {
    subject: 'A passkey was added to your account ({{product}})',
    paragraphs: [`${passkey} was added to your {{product}} account.`],
    small: [when, notYou],
  }),
  factor_passkey_removed: noticeMail(b, {
    subject: 'A passkey was removed from your account ({{product}})',
    paragraphs: [`${passkey} was removed from your {{product}} account.`],
    small: [when, notYou],
  }),
  factor_recovery_codes_regenerated: noticeMail(b, {
    subject: 'New recovery codes were created for your account ({{product}})',
    paragraphs: ['New recovery codes were created for your {{product}} account; the old ones no longer work.'],
    small: [when, notYou],
  }),
  factor_reset_by_admin: noticeMail(b, {
    subject: 'An administrator reset your second factors ({{product}})',
    paragraphs: [
      'An administrator of {{product}} removed the second factors (authenticator app, recovery codes or passkeys) of your account. You can add them again after you sign in.',
    ],
    small: [when, notYou],
  }),
  identity_linked: noticeMail(b, {
    subject: '{{provider}} was linked to your {{product}} account',
    paragraphs: [
      'A {{provider}} account{{#provider_email}} ({{provider_email}}){{/provider_email}} was linked to your {{product}} account: it can now be used to sign in.',
      'If this was not you, sign in, remove it under your account\'s sign-in methods, and change your password.',
    ],
    small: [],
  }),
  account_deletion_scheduled: noticeMail(b, {
    subject: 'Your {{product}} account will be deleted',
    paragraphs: [
      'You asked to delete your {{product}} account ({{email}}). It will be deleted with all its data on {{deletes_at}}, and every device was signed out.',
      'Changed your mind? Sign in before then: signing in cancels the deletion.',
    ],
    small: ['If you did not ask for this, sign in now to keep your account, then change your password.'],
  }),
  account_deleted: noticeMail(b, {
    subject: 'Your {{product}} account was deleted',
    paragraphs: ['Your {{product}} account ({{email}}) and all its data were deleted, as you asked. Thank you for having used {{product}}.'],
    small: ['If you did not ask for this, contact your administrator.'],
  }),
};
