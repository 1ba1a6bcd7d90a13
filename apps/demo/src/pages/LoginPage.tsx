import { useAuth, useRetryAfter } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { Alert, ErrorAlert, Field, isCode, signOutMessage, useAction } from '../forms.tsx';
import { go } from '../route.ts';

export function LoginPage(): ReactNode {
  const { login, reason } = useAuth();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  // Why the last session ended is news until the user acts on the form.
  const [acted, setActed] = useState(false);
  const [askedAgain, setAskedAgain] = useState(false);
  const action = useAction(login);
  const wait = useRetryAfter(action.error);

  const signIn = (again: boolean) => {
    setActed(true);
    setAskedAgain(again);
    void action.run({ email, password }).then((ok) => ok && go('profile'));
  };

  return (
    <section className="card narrow">
      <h1>Sign in</h1>
      {reason && !acted ? <Alert kind={reason === 'logged_out' ? 'success' : 'info'}>{signOutMessage(reason)}</Alert> : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          signIn(false);
        }}
      >
        {isCode(action.error, 'EMAIL_NOT_VERIFIED') ? (
          <Alert kind="error">
            <p>
              Confirm your email address first: we have sent a link to <strong>{email.trim()}</strong>. Open it, then sign in here.
            </p>
            {askedAgain ? (
              <p>
                Asked for another link. At most one is sent per minute, so if you asked within the last minute, use the one already on its
                way. If several arrive, use the newest.
              </p>
            ) : null}
            <button type="button" className="button-quiet" disabled={action.busy} onClick={() => signIn(true)}>
              Send the link again
            </button>
          </Alert>
        ) : (
          <ErrorAlert error={action.error} wait={wait} limited="Too many sign-in attempts." />
        )}
        <Field label="Email" name="email" type="email" autoComplete="username" value={email} onChange={setEmail} required />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={setPassword}
          required
        />
        <a className="forgot" href="#/forgot-password">
          Forgot password?
        </a>
        <button type="submit" className="button-primary" disabled={action.busy || wait > 0}>
          {action.busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p className="switch">
        New here? <a href="#/register">Create an account</a>
      </p>
    </section>
  );
}
