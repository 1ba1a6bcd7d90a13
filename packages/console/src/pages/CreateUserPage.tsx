import { LatchkeyError } from '@latchkey/client';
import { useState, type ReactNode } from 'react';
import { invalidRoles, parseRoles } from '../api.ts';
import { useAdminApi } from '../console-context.tsx';
import { Field, fieldError } from '../forms.tsx';
import { consoleHref, goTo } from '../route.ts';
import { ErrorMessage } from '../shared.tsx';

/** Creates an account directly (no verification mail, no self-registration needed). */
export function CreateUserPage({ onCreated }: { onCreated: (message: string) => void }): ReactNode {
  const api = useAdminApi();
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [rolesText, setRolesText] = useState('');
  const [verified, setVerified] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      const roles = parseRoles(rolesText);
      const bad = invalidRoles(roles);
      if (bad.length > 0) {
        throw new LatchkeyError('VALIDATION_FAILED', 'Invalid role.', 0, [
          { field: 'roles', message: `${bad.join(', ')}: a role is lower-case letters, digits and _ . : - (at most 64)` },
        ]);
      }
      const user = await api.createUser({
        email,
        password,
        ...(name.trim() ? { name: name.trim() } : {}),
        roles,
        email_verified: verified,
      });
      onCreated(`Created ${user.email}.`);
      goTo({ page: 'user', id: user.id });
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  return (
    <section className="card admin admin-narrow">
      <p className="back">
        <a href={consoleHref({ page: 'users' })}>← All users</a>
      </p>
      <h1>New user</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <ErrorMessage error={error} />
        <Field label="Email" name="new-email" type="email" autoComplete="off" value={email} onChange={setEmail} required error={fieldError(error, 'email')} />
        <Field label="Name" name="new-name" autoComplete="off" value={name} onChange={setName} hint="Optional." error={fieldError(error, 'name')} />
        <Field
          label="Password"
          name="new-password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={setPassword}
          required
          hint="8 to 256 characters; common passwords are refused. Share it with the user over a safe channel."
          error={fieldError(error, 'password')}
        />
        <Field
          label="Roles"
          name="new-roles"
          autoComplete="off"
          value={rolesText}
          onChange={setRolesText}
          hint="Optional, comma-separated, e.g. admin, editor."
          error={fieldError(error, 'roles')}
        />
        <label className="check">
          <input type="checkbox" checked={verified} onChange={(e) => setVerified(e.target.checked)} /> Email already verified
        </label>
        <div className="form-actions">
          <button type="submit" className="button-primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create user'}
          </button>
          <a className="button-link button-link-quiet" href={consoleHref({ page: 'users' })}>
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}
