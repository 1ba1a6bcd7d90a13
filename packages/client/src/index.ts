/**
 * Latchkey browser SDK: the access token in memory only, silent refresh through the HttpOnly
 * refresh cookie, one refresh at a time across tabs, logout everywhere.
 *
 * @example
 * import { createClient } from '@latchkey/client';
 * const auth = createClient({ baseUrl: '' });
 * await auth.restore();
 */
export { createClient, signOutReasonFor } from './client.js';
export {
  errorFromResponse,
  LatchkeyError,
  parseRetryAfter,
  ReauthenticationRequiredError,
  type FieldError,
  type LatchkeyErrorCode,
  type ReauthenticationMethod,
} from './errors.js';
export type {
  AccountDeletion,
  AccountDeletionResult,
  AccountExport,
  AuthChangeListener,
  AuthEvent,
  AuthState,
  ClientOptions,
  ConnectedApp,
  Credentials,
  EmailSignInRequest,
  EmailSignInVerification,
  Factor,
  FactorList,
  FactorProof,
  Identity,
  IdentityList,
  LatchkeyClient,
  LoginResult,
  MfaEnrollmentRequired,
  MfaFactorType,
  MfaRequired,
  MfaVerification,
  Passkey,
  PasswordChange,
  ProfileUpdate,
  ReauthenticationProof,
  Provider,
  ProviderRedirectOptions,
  RedirectResult,
  RegisterInput,
  SecurityEvent,
  Session,
  SignOutReason,
  TotpConfirmation,
  TotpEnrollment,
  TotpEnrollmentSignIn,
  User,
} from './types.js';
export { passkeyAutofillSupported, passkeysSupported } from './webauthn.js';
