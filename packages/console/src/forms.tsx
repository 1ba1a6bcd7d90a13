import { LatchkeyError, type LatchkeyErrorCode, type SignOutReason } from '@latchkey/client';
import type { ReactNode } from 'react';

export function isCode(error: unknown, code: LatchkeyErrorCode): error is LatchkeyError {
  return error instanceof LatchkeyError && error.code === code;
}

/** "42 seconds", "1 minute", "15 minutes": a wait the server asked for, for people. */
export function formatWait(seconds: number): string {
  if (seconds < 120) return `${seconds} ${seconds === 1 ? 'second' : 'seconds'}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

/** The sign-in form's message for a failed login. */
export function describeSignInError(error: unknown): string {
  if (error instanceof LatchkeyError) {
    switch (error.code) {
      case 'INVALID_CREDENTIALS':
        return 'That email and password do not match.';
      case 'ACCOUNT_DISABLED':
        return 'This account has been disabled.';
      case 'EMAIL_NOT_VERIFIED':
        return 'This account’s email address is not verified yet. Open the link Latchkey mailed to it, then sign in here.';
      case 'NETWORK_ERROR':
        return 'The server could not be reached. Check your connection.';
      case 'VALIDATION_FAILED':
        return error.errors.map((e) => e.message).join(' ') || error.message;
      default:
        return error.message;
    }
  }
  return 'Something went wrong.';
}

export function fieldError(error: unknown, field: string): string | undefined {
  return error instanceof LatchkeyError ? error.errors.find((e) => e.field === field)?.message : undefined;
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
  disabled?: boolean;
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
        disabled={props.disabled}
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

/** The sign-in page's sentence for why the last console session ended (AuthState.reason). */
export function signOutMessage(reason: SignOutReason): string {
  switch (reason) {
    case 'logged_out':
      return 'You have signed out.';
    case 'session_expired':
      return 'Your session expired. Please sign in again.';
    case 'session_revoked':
      return 'You were signed out: this session was ended from another device, by another admin, or by a change to your account (a new password, new roles, or the account being disabled).';
    case 'revoked_elsewhere':
      return 'You were signed out: this session was ended from another of your devices.';
    case 'revoked_by_admin':
      return 'You were signed out: another admin ended this session.';
    case 'password_changed':
      return 'You were signed out because your password was changed on another device. Sign in with the new password.';
    case 'roles_changed':
      return 'You were signed out because your roles were changed. Sign in again to continue with them.';
    case 'account_disabled':
      return 'You were signed out because this account has been disabled.';
    case 'account_deleted':
      return 'You were signed out because this account was deleted.';
    case 'account_deletion_scheduled':
      return 'You were signed out because this account is scheduled for deletion. Signing in again cancels it.';
    case 'reuse_detected':
      return 'You were signed out for your safety: this session’s sign-in was used from two places at once, which can mean it was copied. Sign in again, and consider changing your password.';
    case 'password_reset':
      return 'Your password was changed and every session was signed out. Sign in with your new password.';
    case 'session_ended':
      return 'Your session has ended. Please sign in again.';
  }
}
