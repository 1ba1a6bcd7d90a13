import { useAuth, useRetryAfter } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { Alert, describeSignInError, Field, formatWait, isCode, signOutMessage } from '../forms.tsx';

interface Props {
  /** Signs in; resolves when the console knows whether the account may use it. */
  signIn: (credentials: { email: string; password: string }) => Promise<void>;
  /** The email of an account that signed in here without the admin role (and was signed out again). */
  refused: string | null;
}

/** The console's own sign-in form: an admin account, in cookie mode (the SDK's login). */
export function SignInPage({ signIn, refused }: Props): ReactNode {
  const { reason } = useAuth();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // Why the last session ended is news until the admin acts on the form.
  const [acted, setActed] = useState(false);
  const wait = useRetryAfter(error);

  const submit = async () => {
    setActed(true);
    setBusy(true);
    setError(null);
    try {
      await signIn({ email, password });
      setPassword('');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card narrow">
      <h1>Sign in</h1>
      <p className="muted intro">The Latchkey console, for accounts with the admin role.</p>
      {refused ? (
        <Alert kind="error">
          <p>
            <strong>{refused}</strong> is not an admin account, so it cannot use the console. It has been signed out here.
          </p>
          <p>Sign in with an account that has the admin role.</p>
        </Alert>
      ) : reason && !acted ? (
        <Alert kind={reason === 'logged_out' ? 'success' : 'info'}>{signOutMessage(reason)}</Alert>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        {error ? (
          <Alert kind="error">
            {isCode(error, 'RATE_LIMITED')
              ? `Too many sign-in attempts. ${wait > 0 ? `Try again in ${formatWait(wait)}.` : 'You can try again now.'}`
              : describeSignInError(error)}
          </Alert>
        ) : null}
        <Field label="Email" name="email" type="email" autoComplete="username" value={email} onChange={setEmail} required />
        <Field label="Password" name="password" type="password" autoComplete="current-password" value={password} onChange={setPassword} required />
        <button type="submit" className="button-primary" disabled={busy || wait > 0}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </section>
  );
}
