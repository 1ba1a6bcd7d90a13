import type { User } from '@latchkey/client';
import { useAuth, useRetryAfter } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { Alert, ErrorAlert, isCode, useAction } from '../forms.tsx';

/**
 * The page of the verification mail's link (/verify-email?token=…, taken into memory by
 * takeMailLink). It asks for a click rather than posting on load: mail scanners open links, and
 * some run their scripts (docs/email.md).
 */
export function VerifyEmailPage({ token, onSpent }: { token: string | null; onSpent: () => void }): ReactNode {
  const { status, user, verifyEmail } = useAuth();
  // The token is kept by the page: the App forgets it once it has been posted.
  const [link] = useState(token);
  const [verified, setVerified] = useState<User | null>(null);
  const confirm = useAction(async () => {
    try {
      setVerified(await verifyEmail(link!));
      onSpent();
    } catch (error) {
      if (isCode(error, 'TOKEN_INVALID')) onSpent();
      throw error;
    }
  });

  if (verified) {
    return (
      <section className="card narrow">
        <h1>Email address confirmed</h1>
        <Alert kind="success">
          <p>
            Your email address <strong>{verified.email}</strong> is verified.
          </p>
        </Alert>
        <p className="switch">
          {status === 'authenticated' ? <a href="#/profile">Go to your profile</a> : <a href="#/login">Sign in</a>}
        </p>
      </section>
    );
  }

  const invalid = isCode(confirm.error, 'TOKEN_INVALID');
  return (
    <section className="card narrow">
      <h1>Confirm your email address</h1>
      {link === null || invalid ? (
        <>
          <Alert kind="error">
            {invalid ? (
              <p>This verification link is invalid, already used or expired.</p>
            ) : (
              <p>This page has no verification link. Open the link in the mail again: for your safety the page forgets it once loaded.</p>
            )}
          </Alert>
          <NewLink />
        </>
      ) : (
        <>
          <p>{user ? `Confirm that ${user.email} is your address.` : 'Confirm that this address is yours to finish setting up your account.'}</p>
          <ErrorAlert error={confirm.error} />
          <button type="button" className="button-primary" disabled={confirm.busy} onClick={() => void confirm.run()}>
            {confirm.busy ? 'Confirming…' : 'Confirm email address'}
          </button>
        </>
      )}
    </section>
  );
}

/** The way forward from a dead link: a new one for a signed-in user, else sign in (which sends one when needed). */
function NewLink(): ReactNode {
  const { status, user, resendVerification } = useAuth();
  const [sent, setSent] = useState(false);
  const resend = useAction(async () => {
    setSent(false);
    await resendVerification();
    setSent(true);
  });
  const wait = useRetryAfter(resend.error);

  if (status === 'loading') return null;
  if (status !== 'authenticated' || !user) {
    return (
      <p>
        To get a new link, <a href="#/login">sign in</a>: while your address still needs confirming, signing in sends one (or your profile
        page does).
      </p>
    );
  }
  if (user.email_verified) {
    return (
      <p>
        Your address {user.email} is already verified. <a href="#/profile">Go to your profile</a>
      </p>
    );
  }
  return (
    <div className="notice">
      <p>Get a new link mailed to {user.email}; it replaces any earlier one.</p>
      {sent ? <Alert kind="success">A new link is on its way to {user.email}. It replaces any earlier one.</Alert> : null}
      <ErrorAlert error={resend.error} wait={wait} limited="A link was sent less than a minute ago." />
      <button type="button" className="button-quiet" disabled={resend.busy || wait > 0} onClick={() => void resend.run()}>
        Send a new link
      </button>
    </div>
  );
}
