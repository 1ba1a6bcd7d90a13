import { LatchkeyError } from '@latchkey/client';
import { useState, type ReactNode } from 'react';

/** A user-facing message for a failed call. */
export function describe(error: unknown): string {
  if (error instanceof LatchkeyError) {
    switch (error.code) {
      case 'INVALID_CREDENTIALS':
        return 'That email and password do not match.';
      case 'EMAIL_TAKEN':
        return 'An account with this email already exists.';
      case 'RATE_LIMITED':
        return 'Too many attempts. Please wait a moment and try again.';
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

export function Alert({ kind, children }: { kind: 'error' | 'success'; children: ReactNode }): ReactNode {
  return (
    <p className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </p>
  );
}
