import { useAuth } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { Alert, describe, Field, fieldError, isCode, useAction } from '../forms.tsx';
import { LanguageField } from '../language.tsx';
import { go } from '../route.ts';
import { ProviderButtons } from '../social.tsx';

export function RegisterPage(): ReactNode {
  const { register, login } = useAuth();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [locale, setLocale] = useState('');
  /** Set when the server wants the address confirmed before the first sign-in. */
  const [confirmFirst, setConfirmFirst] = useState<string | null>(null);
  // Registering does not sign in by itself; the demo signs in right after, as most apps do.
  const action = useAction(async () => {
    await register({ email, password, name: name.trim(), ...(locale === '' ? {} : { locale }) });
    try {
      await login({ email, password });
      go('profile');
    } catch (error) {
      // REQUIRE_VERIFIED_EMAIL=true on the server: the account exists, sign-in waits for the link.
      if (!isCode(error, 'EMAIL_NOT_VERIFIED')) throw error;
      setConfirmFirst(email.trim());
    }
  });

  if (confirmFirst !== null) {
    return (
      <section className="card narrow">
        <h1>Check your inbox</h1>
        <Alert kind="success">
          <p>
            Your account has been created. We have sent a link to <strong>{confirmFirst}</strong>: open it to confirm your address, then
            sign in.
          </p>
        </Alert>
        <p className="muted">
          No mail? Each sign-in attempt before you confirm sends a new link (at most one a minute). If several arrive, use the newest.
        </p>
        <p className="switch">
          <a href="#/login">Go to sign in</a>
        </p>
      </section>
    );
  }

  return (
    <section className="card narrow">
      <h1>Create an account</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void action.run();
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
        <LanguageField value={locale} onChange={setLocale} />
        <button type="submit" className="button-primary" disabled={action.busy}>
          {action.busy ? 'Creating account…' : 'Create account'}
        </button>
      </form>
      <ProviderButtons verb="Sign up" />
      <p className="switch">
        Already have an account? <a href="#/login">Sign in</a>
      </p>
    </section>
  );
}
