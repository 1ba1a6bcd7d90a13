import { LatchkeyError } from '@latchkey/client';
import { useState, type ReactNode } from 'react';
import { invalidRoles, parseRoles } from '../api.ts';
import { useAdminApi } from '../console-context.tsx';
import { Field, fieldError } from '../forms.tsx';
import { consoleHref, goTo } from '../route.ts';
import { ErrorMessage } from '../shared.tsx';

/** How the new account gets its password: the user chooses it from a mailed link, or the admin sets it. */
type Mode = 'invite' | 'password';

/**
 * Creates an account: directly with a password the admin shares (no mail, no self-registration
 * needed), or by invitation: the user gets a mail and chooses their own password, so no password
 * passes through the admin (it needs working mail: SMTP_URL).
 */
export function CreateUserPage({ onCreated }: { onCreated: (message: string) => void }): ReactNode {
  const api = useAdminApi();
  const [mode, setMode] = useState<Mode>('password');
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
      if (mode === 'invite') {
        const { user, created } = await api.inviteUser({ email, ...(name.trim() ? { name: name.trim() } : {}), roles });
        onCreated(
          created
            ? `Invited ${user.email}: a link to choose a password is on its way.`
            : `${user.email} was already invited: a new link is on its way (the previous one no longer works).`,
        );
        goTo({ page: 'user', id: user.id });
        return;
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
        <fieldset className="mode">
          <legend>Password</legend>
          <label className="check">
            <input type="radio" name="new-mode" value="password" checked={mode === 'password'} onChange={() => setMode('password')} /> Set a
            password now and share it with the user
          </label>
          <label className="check">
            <input type="radio" name="new-mode" value="invite" checked={mode === 'invite'} onChange={() => setMode('invite')} /> Invite by
            email: the user chooses their own password
          </label>
        </fieldset>
        <ErrorMessage error={error} />
        <Field label="Email" name="new-email" type="email" autoComplete="off" value={email} onChange={setEmail} required error={fieldError(error, 'email')} />
        <Field label="Name" name="new-name" autoComplete="off" value={name} onChange={setName} hint="Optional." error={fieldError(error, 'name')} />
        {mode === 'password' ? (
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
        ) : null}
        <Field
          label="Roles"
          name="new-roles"
          autoComplete="off"
          value={rolesText}
          onChange={setRolesText}
          hint="Optional, comma-separated, e.g. admin, editor."
          error={fieldError(error, 'roles')}
        />
        {mode === 'password' ? (
          <label className="check">
            <input type="checkbox" checked={verified} onChange={(e) => setVerified(e.target.checked)} /> Email already verified
          </label>
        ) : (
          <p className="hint">
            The invitation link works once, for 7 days unless the server’s INVITE_TTL says otherwise; accepting it confirms the address.
          </p>
        )}
        <div className="form-actions">
          <button type="submit" className="button-primary" disabled={busy}>
            {mode === 'invite' ? (busy ? 'Sending…' : 'Send invitation') : busy ? 'Creating…' : 'Create user'}
          </button>
          <a className="button-link button-link-quiet" href={consoleHref({ page: 'users' })}>
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}
