import { useAuth } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { LatchkeyError } from '@latchkey/client';
import { useStepUp } from '../confirm.tsx';
import { Alert, describe, Field, fieldError } from '../forms.tsx';

export function PasswordPage(): ReactNode {
  const { client } = useAuth();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [done, setDone] = useState(false);
  const [mismatch, setMismatch] = useState(false);
  const finish = () => {
    setDone(true);
    setCurrent('');
    setNext('');
    setConfirm('');
  };
  // An account with a second factor whose sign-in is not recent: "Confirm it's you", then again.
  const action = useStepUp(async () => {
    await client.changePassword({ currentPassword: current, newPassword: next });
    finish();
  });

  return (
    <section className="card narrow">
      <h1>Change password</h1>
      <p className="muted">Changing your password signs out every other session. This one stays signed in.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setDone(false);
          if (next !== confirm) {
            setMismatch(true);
            return;
          }
          setMismatch(false);
          void action.start();
        }}
      >
        {action.error ? (
          <Alert kind="error">
            {action.error instanceof LatchkeyError && action.error.code === 'INVALID_CREDENTIALS'
              ? 'Your current password is not correct.'
              : describe(action.error)}
          </Alert>
        ) : null}
        {done ? <Alert kind="success">Password changed. Your other sessions have been signed out.</Alert> : null}
        <Field
          label="Current password"
          name="current_password"
          type="password"
          autoComplete="current-password"
          value={current}
          onChange={setCurrent}
          error={fieldError(action.error, 'current_password')}
          required
        />
        <Field
          label="New password"
          name="new_password"
          type="password"
          autoComplete="new-password"
          value={next}
          onChange={setNext}
          error={fieldError(action.error, 'new_password')}
          hint="At least 8 characters."
          required
        />
        <Field
          label="Confirm new password"
          name="confirm_password"
          type="password"
          autoComplete="new-password"
          value={confirm}
          onChange={setConfirm}
          error={mismatch ? 'The two new passwords differ.' : undefined}
          required
        />
        <button type="submit" className="button-primary" disabled={action.busy}>
          {action.busy ? 'Changing…' : 'Change password'}
        </button>
      </form>
      {action.prompt}
    </section>
  );
}
