import { useAuth, useRetryAfter } from '@latchkey/client/react';
import { useEffect, useState, type ReactNode } from 'react';
import { useStepUp } from '../confirm.tsx';
import { ConnectedApps } from '../connected-apps.tsx';
import { Alert, describe, ErrorAlert, Field, fieldError, isCode, useAction } from '../forms.tsx';
import { formatDate } from '../format.ts';
import { LanguageField } from '../language.tsx';
import { keepScheduledDeletion } from '../scheduled-deletion.ts';

export function ProfilePage(): ReactNode {
  const { user, updateMe } = useAuth();
  const [name, setName] = useState(user?.name ?? '');
  const [locale, setLocale] = useState(user?.locale ?? '');
  const [saved, setSaved] = useState(false);
  const action = useAction(async () => {
    // The language only when it changed: a server without localized mail knows no `locale`.
    const language = locale === (user?.locale ?? '') ? {} : { locale: locale === '' ? null : locale };
    await updateMe({ name: name.trim() === '' ? null : name.trim(), ...language });
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
        <LanguageField value={locale} onChange={setLocale} />
        <button type="submit" className="button-primary" disabled={action.busy}>
          {action.busy ? 'Saving…' : 'Save'}
        </button>
      </form>
      <ConnectedApps />
      <YourData />
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

/** Offers a file as a download (the browser saves it under its name). */
function download(file: File): void {
  const url = URL.createObjectURL(file);
  const a = document.createElement('a');
  a.href = url;
  a.download = file.name;
  document.body.append(a);
  a.click();
  a.remove();
  // After the click has handed the file to the browser's download.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/** "Download my data" and "Delete my account" (docs/account.md). */
function YourData(): ReactNode {
  const { exportMyData } = useAuth();
  const [confirming, setConfirming] = useState(false);
  const exporting = useAction(async () => download(await exportMyData()));
  const wait = useRetryAfter(exporting.error);
  return (
    <div className="notice">
      <h2>Your data</h2>
      <p className="muted">
        Everything we hold about you (profile, sessions, connected accounts, second factors without their secrets, security events) as one
        JSON file.
      </p>
      <ErrorAlert error={exporting.error} wait={wait} limited="Too many downloads." />
      <div className="actions">
        <button type="button" className="button-quiet" disabled={exporting.busy || wait > 0} onClick={() => void exporting.run()}>
          {exporting.busy ? 'Preparing…' : 'Download my data'}
        </button>
        {confirming ? null : (
          <button type="button" className="button-danger" onClick={() => setConfirming(true)}>
            Delete my account
          </button>
        )}
      </div>
      {confirming ? <DeleteAccount onCancel={() => setConfirming(false)} /> : null}
    </div>
  );
}

/**
 * The confirmation of a deletion: the password for an account that has one; an account with a
 * second factor (or one signed in too long ago) is then asked to confirm it is the user (the
 * step-up dialog), and the deletion is sent again.
 */
function DeleteAccount({ onCancel }: { onCancel: () => void }): ReactNode {
  const { deleteAccount, listIdentities } = useAuth();
  const [password, setPassword] = useState('');
  const [hasPassword, setHasPassword] = useState<boolean | null>(null);
  const load = useAction(async () => setHasPassword((await listIdentities()).has_password));
  useEffect(() => {
    void load.run();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps -- once, when the dialog opens
  const remove = useStepUp(async (currentPassword: string) => {
    const { deletesAt } = await deleteAccount(currentPassword === '' ? {} : { currentPassword });
    // Every tab is signed out by now; the sign-in page says until when signing in cancels it.
    keepScheduledDeletion(deletesAt);
  });
  return (
    <div className="notice" role="dialog" aria-labelledby="delete-heading">
      <h2 id="delete-heading">Delete your account?</h2>
      <p>
        This deletes your account and everything of it: your sessions, second factors, passkeys, connected accounts and security history.
        You will be signed out everywhere. It cannot be undone.
      </p>
      <ErrorAlert error={load.error} />
      {remove.error ? (
        <Alert kind="error">{isCode(remove.error, 'INVALID_CREDENTIALS') ? 'That password is not correct.' : describe(remove.error)}</Alert>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void remove.start(password);
        }}
      >
        {hasPassword ? (
          <Field
            label="Your password"
            name="delete-password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={setPassword}
            error={fieldError(remove.error, 'current_password')}
            required
          />
        ) : null}
        <div className="actions">
          <button type="submit" className="button-danger" disabled={remove.busy || hasPassword === null}>
            {remove.busy ? 'Deleting…' : 'Delete my account permanently'}
          </button>
          <button type="button" className="button-quiet" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
      {remove.prompt}
    </div>
  );
}
