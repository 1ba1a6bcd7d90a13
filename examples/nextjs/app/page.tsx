'use client';

import { LatchkeyError } from '@latchkey/client';
import { RequireAuth, useAuth } from '@latchkey/client/react';
import Link from 'next/link';
import { useState, type FormEvent } from 'react';
import { LatchkeyProvider } from './latchkey-provider';

function SignIn() {
  const { login } = useAuth();
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
      <input name="email" type="email" placeholder="Email" autoComplete="username" required />
      <input name="password" type="password" placeholder="Password" autoComplete="current-password" required />
      <button type="submit">Sign in</button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}

function Orders() {
  const { user, client, logout } = useAuth();
  const [orders, setOrders] = useState('');
  // client.fetch adds the bearer token, refreshing it first when needed.
  const load = async () => setOrders(await (await client.fetch('/api/orders')).text());
  return (
    <main>
      <p>Signed in as {user?.email}</p>
      <button onClick={load}>Load my orders</button>
      <pre id="orders">{orders}</pre>
      <p>
        <Link href="/account">Your account (a server component)</Link>
      </p>
      <button onClick={() => logout()}>Sign out</button>
    </main>
  );
}

export default function Home() {
  return (
    <LatchkeyProvider>
      <RequireAuth fallback={<SignIn />} loading={<p>Loading…</p>}>
        <Orders />
      </RequireAuth>
    </LatchkeyProvider>
  );
}
