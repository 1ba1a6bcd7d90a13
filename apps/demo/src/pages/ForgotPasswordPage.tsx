import { useAuth, useRetryAfter } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { Alert, ErrorAlert, Field, fieldError, useAction } from '../forms.tsx';

/** "Forgot password?": asks Latchkey to mail a reset link. The answer never says whether the account exists. */
export function ForgotPasswordPage(): ReactNode {
  const { requestPasswordReset } = useAuth();
  const [email, setEmail] = useState('');
  const [sentTo, setSentTo] = useState<string | null>(null);
  const action = useAction(async () => {
    setSentTo(null);
    await requestPasswordReset(email.trim());
    setSentTo(email.trim());
  });
  const wait = useRetryAfter(action.error);

  return (
    <section className="card narrow">
      <h1>Reset your password</h1>
      <p className="muted">Enter your account’s email address and we will mail you a link to choose a new password.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void action.run();
        }}
      >
        {sentTo ? (
          <Alert kind="success">
            <p>
              If an account exists for <strong>{sentTo}</strong>, a link to reset its password is on its way. Check your inbox.
            </p>
          </Alert>
        ) : null}
        {fieldError(action.error, 'email') ? null : <ErrorAlert error={action.error} wait={wait} limited="Too many reset requests for this address." />}
        <Field
          label="Email"
          name="email"
          type="email"
          autoComplete="username"
          value={email}
          onChange={setEmail}
          error={fieldError(action.error, 'email')}
          required
        />
        <button type="submit" className="button-primary" disabled={action.busy || wait > 0}>
          {action.busy ? 'Sending…' : 'Send reset link'}
        </button>
      </form>
      <p className="switch">
        <a href="#/login">Back to sign in</a>
      </p>
    </section>
  );
}
