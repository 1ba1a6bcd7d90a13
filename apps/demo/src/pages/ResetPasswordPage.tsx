import { useAuth } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { Alert, ErrorAlert, Field, fieldError, isCode, useAction } from '../forms.tsx';

/** The page of the reset mail's link (/reset-password?token=…, taken into memory by takeMailLink). */
export function ResetPasswordPage({ token, onSpent }: { token: string | null; onSpent: () => void }): ReactNode {
  const { resetPassword } = useAuth();
  const [link] = useState(token);
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [mismatch, setMismatch] = useState(false);
  const [done, setDone] = useState(false);
  const action = useAction(async () => {
    try {
      await resetPassword(link!, next);
    } catch (error) {
      // A refused password leaves the link usable (the server checks it first); a dead link does not.
      if (isCode(error, 'TOKEN_INVALID')) onSpent();
      throw error;
    }
    onSpent();
    setDone(true);
  });

  if (done) {
    return (
      <section className="card narrow">
        <h1>Password changed</h1>
        <Alert kind="success">
          <p>Your password has been changed, and every session of your account has been signed out. Sign in with your new password.</p>
        </Alert>
        <p className="switch">
          <a href="#/login">Sign in</a>
        </p>
      </section>
    );
  }

  const invalid = isCode(action.error, 'TOKEN_INVALID');
  if (link === null || invalid) {
    return (
      <section className="card narrow">
        <h1>Choose a new password</h1>
        <Alert kind="error">
          {invalid ? (
            <p>This password-reset link is invalid, already used or expired.</p>
          ) : (
            <p>This page has no reset link. Open the link in the mail again: for your safety the page forgets it once loaded.</p>
          )}
        </Alert>
        <p className="switch">
          <a href="#/forgot-password">Request a new link</a>
        </p>
      </section>
    );
  }

  return (
    <section className="card narrow">
      <h1>Choose a new password</h1>
      <p className="muted">Setting a new password signs your account out on every device.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (next !== confirm) {
            setMismatch(true);
            return;
          }
          setMismatch(false);
          void action.run();
        }}
      >
        {action.error && !fieldError(action.error, 'new_password') ? <ErrorAlert error={action.error} /> : null}
        <Field
          label="New password"
          name="new_password"
          type="password"
          autoComplete="new-password"
          value={next}
          onChange={setNext}
          error={fieldError(action.error, 'new_password')}
          hint="At least 8 characters. A long phrase is easiest to remember."
          required
        />
        <Field
          label="Confirm new password"
          name="confirm_password"
          type="password"
          autoComplete="new-password"
          value={confirm}
          onChange={setConfirm}
          error={mismatch ? 'The two passwords differ.' : undefined}
          required
        />
        <button type="submit" className="button-primary" disabled={action.busy}>
          {action.busy ? 'Saving…' : 'Set new password'}
        </button>
      </form>
    </section>
  );
}
