import type { User } from '@latchkey/client';
import { useAuth } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { Alert, ErrorAlert, Field, fieldError, isCode, useAction } from '../forms.tsx';
import { go } from '../route.ts';

/**
 * The page of an admin's invitation mail (/accept-invite?token=…, taken into memory by
 * takeMailLink): the invited user chooses their password. Accepting signs nothing in (the server's
 * rule); the page then offers to sign in with the password just chosen, which is an ordinary login.
 */
export function AcceptInvitePage({ token, onSpent }: { token: string | null; onSpent: () => void }): ReactNode {
  const { acceptInvite, login } = useAuth();
  const [link] = useState(token);
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [mismatch, setMismatch] = useState(false);
  const [accepted, setAccepted] = useState<User | null>(null);
  const action = useAction(async () => {
    try {
      setAccepted(await acceptInvite(link!, password));
    } catch (error) {
      // A refused password leaves the link usable (the server checks it first); a dead link does not.
      if (isCode(error, 'TOKEN_INVALID')) onSpent();
      throw error;
    }
    onSpent();
  });
  const signIn = useAction(async () => {
    await login({ email: accepted!.email, password });
    go('profile');
  });

  if (accepted) {
    return (
      <section className="card narrow">
        <h1>Your account is ready</h1>
        <Alert kind="success">
          <p>
            Your password is set and <strong>{accepted.email}</strong> is confirmed. Sign in with your new password.
          </p>
        </Alert>
        <ErrorAlert error={signIn.error} />
        <button type="button" className="button-primary" disabled={signIn.busy} onClick={() => void signIn.run()}>
          {signIn.busy ? 'Signing in…' : 'Sign in now'}
        </button>
        <p className="switch">
          <a href="#/login">Go to the sign-in page</a>
        </p>
      </section>
    );
  }

  const invalid = isCode(action.error, 'TOKEN_INVALID');
  if (link === null || invalid) {
    return (
      <section className="card narrow">
        <h1>Accept your invitation</h1>
        <Alert kind="error">
          {invalid ? (
            <p>{action.error instanceof Error ? action.error.message : 'This invitation link is invalid, already used or expired.'}</p>
          ) : (
            <p>This page has no invitation link. Open the link in the mail again: for your safety the page forgets it once loaded.</p>
          )}
          <p>If it expired, ask the administrator who invited you to send a new invitation.</p>
        </Alert>
        <p className="switch">
          <a href="#/login">Sign in</a> · <a href="#/forgot-password">Forgot password?</a>
        </p>
      </section>
    );
  }

  return (
    <section className="card narrow">
      <h1>Accept your invitation</h1>
      <p className="muted">An administrator has created an account for you. Choose the password you will sign in with.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (password !== confirm) {
            setMismatch(true);
            return;
          }
          setMismatch(false);
          void action.run();
        }}
      >
        {action.error && !fieldError(action.error, 'password') ? <ErrorAlert error={action.error} /> : null}
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={setPassword}
          error={fieldError(action.error, 'password')}
          hint="At least 8 characters. A long phrase is easiest to remember."
          required
        />
        <Field
          label="Confirm password"
          name="confirm_password"
          type="password"
          autoComplete="new-password"
          value={confirm}
          onChange={setConfirm}
          error={mismatch ? 'The two passwords differ.' : undefined}
          required
        />
        <button type="submit" className="button-primary" disabled={action.busy}>
          {action.busy ? 'Saving…' : 'Set password'}
        </button>
      </form>
    </section>
  );
}
