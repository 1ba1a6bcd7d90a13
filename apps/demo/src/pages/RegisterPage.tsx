import { useAuth } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { Alert, describe, Field, fieldError, useAction } from '../forms.tsx';
import { go } from '../route.ts';

export function RegisterPage(): ReactNode {
  const { register, login } = useAuth();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  // Registering does not sign in by itself; the demo signs in right after, as most apps do.
  const action = useAction(async () => {
    await register({ email, password, name: name.trim() });
    await login({ email, password });
  });

  return (
    <section className="card narrow">
      <h1>Create an account</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void action.run().then((ok) => ok && go('profile'));
        }}
      >
        {action.error ? <Alert kind="error">{describe(action.error)}</Alert> : null}
        <Field label="Name" name="name" autoComplete="name" value={name} onChange={setName} hint="Optional." />
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
        <button type="submit" className="button-primary" disabled={action.busy}>
          {action.busy ? 'Creating account…' : 'Create account'}
        </button>
      </form>
      <p className="switch">
        Already have an account? <a href="#/login">Sign in</a>
      </p>
    </section>
  );
}
