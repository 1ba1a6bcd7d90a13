import { LatchkeyError } from '@latchkey/client';
import { RequireAuth, useAuth } from '@latchkey/client/react';
import { useState, type FormEvent } from 'react';

function SignIn() {
  const { login, reason } = useAuth();
  const [error, setError] = useState<string | null>(null);
  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    try {
      await login({ email: String(form.get('email')), password: String(form.get('password')) });
    } catch (err) {
      const wrong = err instanceof LatchkeyError && err.code === 'INVALID_CREDENTIALS';
      setError(wrong ? 'Wrong email or password.' : 'Sign-in failed, please try again.');
    }
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
