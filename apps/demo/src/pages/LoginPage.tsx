import { useAuth } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { Alert, describe, Field, useAction } from '../forms.tsx';
import { go } from '../route.ts';

export function LoginPage(): ReactNode {
  const { login } = useAuth();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const action = useAction(login);

  return (
    <section className="card narrow">
      <h1>Sign in</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void action.run({ email, password }).then((ok) => ok && go('profile'));
        }}
      >
        {action.error ? <Alert kind="error">{describe(action.error)}</Alert> : null}
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
        <button type="submit" className="button-primary" disabled={action.busy}>
          {action.busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p className="switch">
        New here? <a href="#/register">Create an account</a>
      </p>
    </section>
  );
}
