import { LatchkeyError, passkeysSupported, type MfaRequired } from '@latchkey/client';
import { RequireAuth, useAuth } from '@latchkey/client/react';
import { useState, type FormEvent } from 'react';

function SignIn() {
  const { login, reason } = useAuth();
  const [error, setError] = useState<string | null>(null);
  // The password was right and the account has a second factor: ask for it (in memory only).
  const [mfa, setMfa] = useState<MfaRequired | null>(null);
  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    try {
      const result = await login({ email: String(form.get('email')), password: String(form.get('password')) });
      if (result.status === 'mfa_required') setMfa(result);
    } catch (err) {
      const wrong = err instanceof LatchkeyError && err.code === 'INVALID_CREDENTIALS';
      setError(wrong ? 'Wrong email or password.' : 'Sign-in failed, please try again.');
    }
  }
  if (mfa) {
    return (
      <SecondFactor
        challenge={mfa}
        onRestart={(message) => {
          setMfa(null);
          setError(message || null);
        }}
      />
    );
  }
  return (
    <form onSubmit={onSubmit}>
      {reason === 'session_expired' && <p>Your session expired. Please sign in again.</p>}
      <input name="email" type="email" autoComplete="username" required />
      <input name="password" type="password" autoComplete="current-password" required />
      <button type="submit">Sign in</button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}

/**
 * The second step of a sign-in, for an account with an authenticator app: nobody is signed in
 * until it succeeds. One field takes the app's 6-digit code or a recovery code.
 */
function SecondFactor({ challenge, onRestart }: { challenge: MfaRequired; onRestart: (message: string) => void }) {
  const { verifyMfa } = useAuth();
  const [error, setError] = useState<string | null>(null);
  async function verify(answer: { code: string } | { passkey: true }) {
    const { mfaToken } = challenge;
    try {
      if ('passkey' in answer) await verifyMfa({ mfaToken, passkey: true });
      else if (/^\d{6}$/.test(answer.code)) await verifyMfa({ mfaToken, code: answer.code });
      else await verifyMfa({ mfaToken, recoveryCode: answer.code });
      // Signed in: <RequireAuth> now shows the app.
    } catch (err) {
      const code = err instanceof LatchkeyError ? err.code : null;
      // Expired, already used, or too many wrong codes: only the password again goes on.
      if (code === 'MFA_TOKEN_INVALID') onRestart('That sign-in expired. Please sign in again.');
      else if (code === 'INVALID_MFA_CODE') setError('Wrong code, please try again.');
      else if (code === 'PASSKEY_CANCELLED') setError(null);
      else setError('Verification failed, please try again.');
    }
  }
  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    await verify({ code: String(form.get('code')).replace(/\s/g, '') });
  }
  return (
    <form onSubmit={onSubmit}>
      <label>
        Code from your authenticator app, or a recovery code
        <input name="code" autoComplete="one-time-code" required />
      </label>
      <button type="submit">Verify</button>
      {challenge.factors.includes('passkey') && passkeysSupported() && (
        <button type="button" onClick={() => verify({ passkey: true })}>
          Use a passkey
        </button>
      )}
      <button type="button" onClick={() => onRestart('')}>
        Start over
      </button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}

function Orders() {
  const { user, client, logout } = useAuth();
  const [orders, setOrders] = useState<string>('');
  // client.fetch adds the bearer token (refreshing it first when needed) for your own API.
  const load = async () => setOrders(await (await client.fetch('/api/orders')).text());
  return (
    <main>
      <p>Signed in as {user?.email}</p>
      <button onClick={load}>Load my orders</button>
      <pre>{orders}</pre>
      <button onClick={() => logout()}>Sign out</button>
    </main>
  );
}

export function App() {
  return (
    <RequireAuth fallback={<SignIn />} loading={<p>Loading…</p>}>
      <Orders />
    </RequireAuth>
  );
}
