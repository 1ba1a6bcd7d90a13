import { LatchkeyError, type LatchkeyErrorCode, type SignOutReason } from '@latchkey/client';
import { useState, type ReactNode } from 'react';

export function isCode(error: unknown, code: LatchkeyErrorCode): error is LatchkeyError {
  return error instanceof LatchkeyError && error.code === code;
}

/** "42 seconds", "1 minute", "15 minutes": a wait the server asked for, for people. */
export function formatWait(seconds: number): string {
  if (seconds < 120) return `${seconds} ${seconds === 1 ? 'second' : 'seconds'}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

/** A user-facing message for a failed call. */
export function describe(error: unknown): string {
  if (error instanceof LatchkeyError) {
    switch (error.code) {
      case 'INVALID_CREDENTIALS':
        return 'That email and password do not match.';
      case 'EMAIL_TAKEN':
        return 'An account with this email already exists.';
      case 'ACCOUNT_DISABLED':
        return 'This account has been disabled. Contact the administrator.';
      case 'RATE_LIMITED':
        return error.retryAfter
          ? `Too many attempts. Try again in ${formatWait(error.retryAfter)}.`
          : 'Too many attempts. Please wait a moment and try again.';
      case 'NETWORK_ERROR':
        return 'The server could not be reached. Check your connection.';
      case 'VALIDATION_FAILED':
        return error.errors.map((e) => e.message).join(' ') || error.message;
      case 'MFA_TOKEN_INVALID':
        return 'This sign-in has expired. Enter your email and password again.';
      case 'REAUTHENTICATION_REQUIRED':
        return 'For your safety, confirm it is you first.';
      case 'PASSKEY_CANCELLED':
        return 'The passkey request was cancelled or timed out.';
      case 'PASSKEY_UNKNOWN':
        return 'This passkey is not registered here (it may have been removed). Sign in another way.';
      case 'PASSKEY_USER_VERIFICATION_REQUIRED':
        return 'This passkey did not verify you (PIN or biometric). Use one that does, or sign in with your password and code.';
      // Social sign-in (docs/social-login.md). A refusal that came back in the address has no
      // server text worth showing (anyone can craft that address): these sentences are the app's.
      case 'ACCOUNT_EXISTS_LINK_REQUIRED':
        return 'An account with this email address already exists. Sign in to it (with your password or a passkey), then link this provider on the Security page.';
      case 'EMAIL_NOT_VERIFIED_BY_PROVIDER':
        return 'The provider did not confirm an email address for this account, so no account could be made from it. Confirm the address with the provider, or register here with email and password.';
      case 'IDENTITY_ALREADY_LINKED':
        return 'That provider account is already linked to another user here.';
      case 'LAST_SIGN_IN_METHOD':
        return 'This is your only way to sign in, so it cannot be removed. Set a password or add a passkey first.';
      case 'INVALID_OAUTH_STATE':
      case 'INVALID_EXCHANGE_CODE':
        return 'That sign-in could not be finished (it expired, was already used, or was started in another tab). Please try again.';
      case 'PROVIDER_UNAVAILABLE':
        return 'The sign-in provider cannot be reached right now. Try again later, or sign in another way.';
      case 'PROVIDER_ERROR':
      case 'INVALID_ID_TOKEN':
        return 'The sign-in provider did not complete the sign-in (it may have been cancelled). Try again, or sign in another way.';
      case 'REDIRECT_NOT_ALLOWED':
        return 'This page is not allowed as a sign-in return address (REDIRECT_ALLOWED_URLS on the server).';
      case 'PASSWORD_NOT_SET':
        return 'This account has no password yet (you sign in through a connected account). Use “Forgot password?” on the sign-in page to get a link that sets one.';
      case 'INVALID_SIGN_IN_CODE':
        return 'That sign-in code or link is not valid (wrong, expired, already used, or replaced by a newer mail). Check the code, or ask for a new mail.';
      case 'LAST_ADMIN':
        return 'You are the last administrator, so this account cannot be deleted. Make someone else an administrator first.';
      case 'IDENTITY_NOT_FOUND':
        return 'That linked account no longer exists. Reload the page.';
      default:
        return error.message;
    }
  }
  return 'Something went wrong.';
}

export function fieldError(error: unknown, field: string): string | undefined {
  return error instanceof LatchkeyError ? error.errors.find((e) => e.field === field)?.message : undefined;
}

/** Runs an async action, tracking busy state and the last error. */
export function useAction<A extends unknown[]>(action: (...args: A) => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (...args: A): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await action(...args);
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, setError };
}

export function Field(props: {
  label: string;
  name: string;
  type?: string;
  value: string;
  onChange: (value: string) => void;
  autoComplete?: string;
  error?: string | undefined;
  hint?: string;
  required?: boolean;
}): ReactNode {
  const id = `field-${props.name}`;
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? 'text'}
        value={props.value}
        autoComplete={props.autoComplete}
        required={props.required}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={props.error ? `${id}-error` : undefined}
        onChange={(e) => props.onChange(e.target.value)}
      />
      {props.error ? (
        <p className="field-error" id={`${id}-error`}>
          {props.error}
        </p>
      ) : props.hint ? (
        <p className="hint">{props.hint}</p>
      ) : null}
    </div>
  );
}

export function Alert({ kind, children }: { kind: 'error' | 'success' | 'info'; children: ReactNode }): ReactNode {
  return (
    <div className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

/**
 * A failed call, said for people. A 429 gets `limited` (what was refused) and the live countdown
 * `wait` from the server's Retry-After (useRetryAfter), the same sentence on every attempt.
 */
export function ErrorAlert({ error, wait = 0, limited = 'Too many attempts.' }: { error: unknown; wait?: number; limited?: string }): ReactNode {
  if (!error) return null;
  if (isCode(error, 'RATE_LIMITED')) {
    const then = wait > 0 ? `Try again in ${formatWait(wait)}.` : error.retryAfter ? 'You can try again now.' : 'Please wait a moment and try again.';
    return (
      <Alert kind="error">
        {limited} {then}
      </Alert>
    );
  }
  return <Alert kind="error">{describe(error)}</Alert>;
}

/** The sign-in page's sentence for why the last session ended (AuthState.reason). */
export function signOutMessage(reason: SignOutReason): string {
  switch (reason) {
    case 'logged_out':
      return 'You have signed out.';
    case 'session_expired':
      return 'Your session expired. Please sign in again.';
    case 'revoked_elsewhere':
      return 'You were signed out: this session was ended from another of your devices.';
    case 'revoked_by_admin':
      return 'You were signed out: an administrator ended this session.';
    case 'password_changed':
      return 'You were signed out because your password was changed on another device. Sign in with the new password.';
    case 'password_reset':
      return 'Your password was changed and every session was signed out. Sign in with your new password.';
    case 'roles_changed':
      return 'You were signed out because an administrator changed your roles. Sign in again to continue with them.';
    case 'account_disabled':
      return 'You were signed out because this account has been disabled. Contact the administrator.';
    case 'account_deleted':
      return 'Your account has been deleted, and every session with it. Thank you for having been here.';
    case 'account_deletion_scheduled':
      return 'Your account is scheduled for deletion, and every session was signed out. Signing in again before it is deleted cancels the deletion.';
    case 'reuse_detected':
      return 'You were signed out for your safety: this session’s sign-in was used from two places at once, which can mean it was copied. Sign in again, and consider changing your password.';
    case 'session_revoked':
      return 'You were signed out: this session was ended from another device, by an administrator, or by a change to your account.';
    case 'session_ended':
      return 'Your session has ended. Please sign in again.';
  }
}
