import { useAuth, useRetryAfter } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { Alert, describe, ErrorAlert, Field, fieldError, useAction } from '../forms.tsx';
import { formatDate } from '../format.ts';

export function ProfilePage(): ReactNode {
  const { user, client } = useAuth();
  const [name, setName] = useState(user?.name ?? '');
  const [saved, setSaved] = useState(false);
  const action = useAction(async () => {
    await client.updateMe({ name: name.trim() === '' ? null : name.trim() });
  });
  if (!user) return null;

  return (
    <section className="card">
      <h1>Profile</h1>
      <dl className="facts">
        <dt>Email</dt>
        <dd>
          {user.email}{' '}
          <span className={user.email_verified ? 'badge badge-ok' : 'badge'}>{user.email_verified ? 'verified' : 'not verified'}</span>
        </dd>
        <dt>Member since</dt>
        <dd>{formatDate(user.created_at)}</dd>
        {user.roles.length > 0 ? (
          <>
            <dt>Roles</dt>
            <dd>{user.roles.join(', ')}</dd>
          </>
        ) : null}
      </dl>
      {user.email_verified ? null : <ConfirmAddress email={user.email} />}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setSaved(false);
          void action.run().then(setSaved);
        }}
      >
        <h2>Edit profile</h2>
        {action.error ? <Alert kind="error">{describe(action.error)}</Alert> : null}
        {saved ? <Alert kind="success">Profile saved.</Alert> : null}
        <Field label="Display name" name="name" autoComplete="name" value={name} onChange={setName} error={fieldError(action.error, 'name')} />
        <button type="submit" className="button-primary" disabled={action.busy}>
          {action.busy ? 'Saving…' : 'Save'}
        </button>
      </form>
    </section>
  );
}

/** For an unconfirmed address: a new verification link (the one from registration may be lost or expired). */
function ConfirmAddress({ email }: { email: string }): ReactNode {
  const { resendVerification } = useAuth();
  const [sent, setSent] = useState(false);
  const resend = useAction(async () => {
    setSent(false);
    await resendVerification();
    setSent(true);
  });
  const wait = useRetryAfter(resend.error);
  return (
    <div className="notice">
      <h2>Confirm your email address</h2>
      <p className="muted">We mailed a link to {email} when you registered. Lost it, or did it expire?</p>
      {sent ? <Alert kind="success">A new link is on its way to {email}. It replaces any earlier one.</Alert> : null}
      <ErrorAlert error={resend.error} wait={wait} limited="A link was sent less than a minute ago." />
      <button type="button" className="button-quiet" disabled={resend.busy || wait > 0} onClick={() => void resend.run()}>
        Send a new link
      </button>
    </div>
  );
}
