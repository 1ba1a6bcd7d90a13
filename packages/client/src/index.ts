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
export { errorFromResponse, LatchkeyError, parseRetryAfter, type FieldError, type LatchkeyErrorCode } from './errors.js';
export type {
  AuthChangeListener,
  AuthEvent,
  AuthState,
  ClientOptions,
  Credentials,
  Factor,
  FactorList,
  FactorProof,
  Identity,
  IdentityList,
  LatchkeyClient,
  LoginResult,
  MfaFactorType,
  MfaRequired,
  MfaVerification,
  Passkey,
  PasswordChange,
  ProfileUpdate,
  Provider,
  ProviderRedirectOptions,
  RedirectResult,
  RegisterInput,
  Session,
  SignOutReason,
  TotpConfirmation,
  TotpEnrollment,
  User,
} from './types.js';
export { passkeysSupported } from './webauthn.js';
