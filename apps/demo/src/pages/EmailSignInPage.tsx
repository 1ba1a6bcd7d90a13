import type { LoginResult, MfaEnrollmentRequired, MfaRequired } from '@latchkey/client';
import { useAuth, useRetryAfter } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { Alert, ErrorAlert, Field, isCode, useAction } from '../forms.tsx';
import { go } from '../route.ts';

/**
 * Email sign-in (docs/email.md, "Email sign-in"): one mail holds a link to `/email-sign-in?token=…`
 * and a 6-digit code; either signs in once. The sign-in page's step asks for the address, then
 * for the code; the link's page ({@link EmailSignInPage}) finishes with a click.
 */

/** A second factor (or its enrolment) still due after the mail proved the address. */
export type EmailSignInChallenge = MfaRequired | MfaEnrollmentRequired;

/**
 * The sign-in page's "Email me a sign-in link": the address, then "check your mail" with the
 * code field. `onResult` gets what the verification answered (the second factor may follow).
 */
export function EmailSignInStep({
  initialEmail,
  onResult,
  onBack,
}: {
  initialEmail: string;
  onResult: (result: LoginResult) => void;
  onBack: () => void;
}): ReactNode {
  const { requestEmailSignIn, verifyEmailSignIn } = useAuth();
  const [email, setEmail] = useState(initialEmail);
  /** The address the last mail went to; the code step is shown while it is set. */
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [code, setCode] = useState('');
  const [resent, setResent] = useState(false);
  const request = useAction(async (again: boolean) => {
    const to = again && sentTo !== null ? sentTo : email.trim();
    await requestEmailSignIn({ email: to });
    setSentTo(to);
    setResent(again);
    setCode('');
  });
  const verify = useAction(async () => {
    try {
      onResult(await verifyEmailSignIn({ email: sentTo!, code: code.trim() }));
    } catch (error) {
      setCode('');
      throw error;
    }
  });
  const requestWait = useRetryAfter(request.error);
  const verifyWait = useRetryAfter(verify.error);

  if (sentTo === null) {
    return (
      <section className="card narrow">
        <h1>Sign in by email</h1>
        <p className="muted">We mail you a link and a code. Either signs you in once, for a few minutes; no password needed.</p>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void request.run(false);
          }}
        >
          <ErrorAlert error={request.error} wait={requestWait} limited="Too many sign-in mails asked for." />
          <Field label="Email" name="email" type="email" autoComplete="username" value={email} onChange={setEmail} required />
          <button type="submit" className="button-primary" disabled={request.busy || requestWait > 0}>
            {request.busy ? 'Sending…' : 'Email me a sign-in link'}
          </button>
        </form>
        <div className="actions">
          <button type="button" className="button-quiet" onClick={onBack}>
            Sign in with a password instead
          </button>
        </div>
      </section>
    );
  }

  return (
    <section className="card narrow">
      <h1>Check your mail</h1>
      <Alert kind="success">
        <p>
          If <strong>{sentTo}</strong> can sign in here, a mail with a sign-in link and a code is on its way
          {resent ? '. It replaces the earlier one' : ''}. Open the link, or type the code below.
        </p>
      </Alert>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void verify.run();
        }}
      >
        <ErrorAlert error={verify.error} wait={verifyWait} limited="Too many wrong codes." />
        <Field
          label="Sign-in code"
          name="sign-in-code"
          autoComplete="one-time-code"
          value={code}
          onChange={setCode}
          hint="The 6-digit code in the mail. It works once; after 5 wrong tries ask for a new mail."
          required
        />
        <button type="submit" className="button-primary" disabled={verify.busy || verifyWait > 0}>
          {verify.busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <ErrorAlert error={request.error} wait={requestWait} limited="Too many sign-in mails asked for." />
      <div className="actions">
        <button type="button" className="button-quiet" disabled={request.busy || requestWait > 0} onClick={() => void request.run(true)}>
          Send a new mail
        </button>
        <button type="button" className="button-quiet" onClick={() => setSentTo(null)}>
          Use another address
        </button>
        <button type="button" className="button-quiet" onClick={onBack}>
          Sign in with a password instead
        </button>
      </div>
    </section>
  );
}

/**
 * The page of the mail's link (/email-sign-in?token=…, taken into memory by takeMailLink). It asks
 * for a click rather than signing in on load: mail scanners open links, and some run their
 * scripts, which would spend the link (docs/email.md). A second factor, when the account has one,
 * continues on the sign-in page (`onChallenge`).
 */
export function EmailSignInPage({
  token,
  onSpent,
  onChallenge,
}: {
  token: string | null;
  onSpent: () => void;
  onChallenge: (challenge: EmailSignInChallenge) => void;
}): ReactNode {
  const { status, user, verifyEmailSignIn } = useAuth();
  // The token is kept by the page: the App forgets it once it has been posted.
  const [link] = useState(token);
  const finish = useAction(async () => {
    try {
      const result = await verifyEmailSignIn({ token: link! });
      onSpent();
      if (result.status === 'signed_in') go('profile');
      else {
        onChallenge(result);
        go('login');
      }
    } catch (error) {
      if (isCode(error, 'INVALID_SIGN_IN_CODE')) onSpent();
      throw error;
    }
  });
  const wait = useRetryAfter(finish.error);

  const invalid = isCode(finish.error, 'INVALID_SIGN_IN_CODE');
  if (link === null || invalid) {
    return (
      <section className="card narrow">
        <h1>Sign in by email</h1>
        <Alert kind="error">
          {invalid ? (
            <p>This sign-in link is invalid, already used, expired, or replaced by a newer mail.</p>
          ) : (
            <p>This page has no sign-in link. Open the link in the mail again: for your safety the page forgets it once loaded.</p>
          )}
        </Alert>
        <p className="switch">
          <a href="#/login">Go to sign in</a> to ask for a new mail.
        </p>
      </section>
    );
  }
  return (
    <section className="card narrow">
      <h1>Sign in by email</h1>
      {status === 'authenticated' && user ? (
        <Alert kind="info">
          <p>
            You are signed in as <strong>{user.email}</strong>. Continuing signs this browser in to the account the mail was sent to.
          </p>
        </Alert>
      ) : null}
      <p>Finish signing in with the link from your mail.</p>
      <ErrorAlert error={finish.error} wait={wait} limited="Too many sign-in attempts." />
      <button type="button" className="button-primary" disabled={finish.busy || wait > 0} onClick={() => void finish.run()}>
        {finish.busy ? 'Signing in…' : 'Sign in'}
      </button>
    </section>
  );
}
