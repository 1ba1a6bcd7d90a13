import { passkeysSupported, type LoginResult, type MfaEnrollmentRequired, type MfaRequired } from '@latchkey/client';
import { useAuth, usePasskeyAutofill, useRetryAfter } from '@latchkey/client/react';
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { keepRecoveryCodes } from '../enrolled-codes.ts';
import { formatDate } from '../format.ts';
import { Alert, ErrorAlert, Field, isCode, signOutMessage, useAction } from '../forms.tsx';
import { go } from '../route.ts';
import { keepScheduledDeletion, useScheduledDeletion } from '../scheduled-deletion.ts';
import { EmailSignInStep } from './EmailSignInPage.tsx';
import { ProviderButtons } from '../social.tsx';

export function LoginPage({
  challenge = null,
  onChallengeTaken,
}: {
  /** A social sign-in's second-factor step (the provider's sign-in was the first). */
  challenge?: MfaRequired | MfaEnrollmentRequired | null;
  onChallengeTaken?: () => void;
} = {}): ReactNode {
  const { login, signInWithPasskey, reason } = useAuth();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  // Why the last session ended is news until the user acts on the form.
  const [acted, setActed] = useState(false);
  const [askedAgain, setAskedAgain] = useState(false);
  /** The password was right and the account has a second factor: the code step. In memory only. */
  const [mfa, setMfa] = useState<MfaRequired | null>(challenge?.status === 'mfa_required' ? challenge : null);
  useEffect(() => {
    // Taken once: a later visit to this page must not offer a spent challenge again.
    if (challenge) onChallengeTaken?.();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps -- on mount only
  /** The password was right and the account's role requires a second factor it does not have: enrolment. */
  const [enroll, setEnroll] = useState<MfaEnrollmentRequired | null>(challenge?.status === 'mfa_enrollment_required' ? challenge : null);
  /** Shown above the password form after the code step was abandoned or expired. */
  const [expired, setExpired] = useState(false);
  /** "Email me a sign-in link": the address and code step replaces the password form. */
  const [byMail, setByMail] = useState(false);
  const deletesAt = useScheduledDeletion();
  /** A first factor's answer (the password's, or the mail's): signed in, or the second factor's step. */
  const proceed = (result: LoginResult) => {
    if (result.status === 'mfa_required') setMfa(result);
    else if (result.status === 'mfa_enrollment_required') setEnroll(result);
    else {
      // Signing in cancelled a scheduled deletion (docs/account.md).
      keepScheduledDeletion(null);
      go('profile');
    }
  };
  const action = useAction(async () => proceed(await login({ email, password })));
  const passkey = useAction(async () => {
    await signInWithPasskey();
    go('profile');
  });
  // From page load, the browser offers the user's passkeys in the email field's autofill (where it
  // can); picking one signs in. Paused during the code step; the button and the password take over.
  const autofill = usePasskeyAutofill({ onSignedIn: () => go('profile'), enabled: mfa === null && enroll === null && !byMail });
  const wait = useRetryAfter(action.error);

  const signIn = (again: boolean) => {
    setActed(true);
    setExpired(false);
    setAskedAgain(again);
    void action.run();
  };

  if (enroll) {
    return (
      <EnrollStep
        challenge={enroll}
        onRestart={(why) => {
          setEnroll(null);
          setPassword('');
          setExpired(why === 'expired');
        }}
      />
    );
  }

  if (mfa) {
    return (
      <MfaStep
        challenge={mfa}
        onRestart={(why) => {
          setMfa(null);
          setPassword('');
          setExpired(why === 'expired');
        }}
      />
    );
  }

  if (byMail) {
    return (
      <EmailSignInStep
        initialEmail={email}
        onResult={proceed}
        onBack={() => {
          setByMail(false);
          setActed(true);
        }}
      />
    );
  }

  return (
    <section className="card narrow">
      <h1>Sign in</h1>
      {reason && !acted ? (
        <Alert kind={reason === 'logged_out' ? 'success' : 'info'}>
          {signOutMessage(reason)}
          {reason === 'account_deletion_scheduled' && deletesAt ? ` It will be deleted on ${formatDate(deletesAt)}.` : null}
        </Alert>
      ) : null}
      {expired ? <Alert kind="info">That sign-in expired. Enter your email and password again.</Alert> : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          signIn(false);
        }}
      >
        {isCode(action.error, 'EMAIL_NOT_VERIFIED') ? (
          <Alert kind="error">
            <p>
              Confirm your email address first: we have sent a link to <strong>{email.trim()}</strong>. Open it, then sign in here.
            </p>
            {askedAgain ? (
              <p>
                Asked for another link. At most one is sent per minute, so if you asked within the last minute, use the one already on its
                way. If several arrive, use the newest.
              </p>
            ) : null}
            <button type="button" className="button-quiet" disabled={action.busy} onClick={() => signIn(true)}>
              Send the link again
            </button>
          </Alert>
        ) : (
          <ErrorAlert error={action.error} wait={wait} limited="Too many sign-in attempts." />
        )}
        <ErrorAlert error={passkey.error ?? autofill.error} limited="Too many sign-in attempts." />
        <Field label="Email" name="email" type="email" autoComplete="username webauthn" value={email} onChange={setEmail} required />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={setPassword}
          required
        />
        <a className="forgot" href="#/forgot-password">
          Forgot password?
        </a>
        <button type="submit" className="button-primary" disabled={action.busy || wait > 0}>
          {action.busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <div className="alternative">
        <span className="muted">or</span>
        <button
          type="button"
          className="button-quiet button-wide"
          onClick={() => {
            setActed(true);
            setByMail(true);
          }}
        >
          Email me a sign-in link
        </button>
      </div>
      {passkeysSupported() ? (
        <div className="alternative">
          <button
            type="button"
            className="button-quiet button-wide"
            disabled={passkey.busy}
            onClick={() => {
              setActed(true);
              void passkey.run();
            }}
          >
            {passkey.busy ? 'Waiting for your passkey…' : 'Sign in with a passkey'}
          </button>
        </div>
      ) : null}
      <ProviderButtons onStart={() => setActed(true)} />
      <p className="switch">
        New here? <a href="#/register">Create an account</a>
      </p>
    </section>
  );
}

/** The second step of a sign-in: a code from the app, a recovery code, or a passkey. */
function MfaStep({ challenge, onRestart }: { challenge: MfaRequired; onRestart: (why: 'expired' | 'back') => void }): ReactNode {
  const { verifyMfa } = useAuth();
  const [useRecovery, setUseRecovery] = useState(false);
  const [code, setCode] = useState('');
  const [recoveryCode, setRecoveryCode] = useState('');
  const action = useAction(async (how: 'code' | 'passkey') => {
    try {
      if (how === 'passkey') await verifyMfa({ mfaToken: challenge.mfaToken, passkey: true });
      else if (useRecovery) await verifyMfa({ mfaToken: challenge.mfaToken, recoveryCode });
      else await verifyMfa({ mfaToken: challenge.mfaToken, code: code.trim() });
      go('profile');
    } catch (error) {
      // Expired, spent, or a lockout dropped it: the only way on is the password again.
      if (isCode(error, 'MFA_TOKEN_INVALID')) onRestart('expired');
      else {
        setCode('');
        throw error;
      }
    }
  });
  const wait = useRetryAfter(action.error);
  const withPasskey = challenge.factors.includes('passkey') && passkeysSupported();

  return (
    <section className="card narrow">
      <h1>Two-step verification</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void action.run('code');
        }}
      >
        <ErrorAlert error={action.error} wait={wait} limited="Too many wrong codes." />
        {useRecovery ? (
          <Field
            label="Recovery code"
            name="recovery-code"
            autoComplete="off"
            value={recoveryCode}
            onChange={setRecoveryCode}
            hint="One of the codes you saved when you set up the authenticator. Each works once."
            required
          />
        ) : (
          <CodeField value={code} onChange={setCode} />
        )}
        <button type="submit" className="button-primary" disabled={action.busy || wait > 0}>
          {action.busy ? 'Verifying…' : 'Verify'}
        </button>
      </form>
      <div className="actions">
        <button
          type="button"
          className="button-quiet"
          onClick={() => {
            setUseRecovery(!useRecovery);
            action.setError(null);
          }}
        >
          {useRecovery ? 'Use the authenticator app' : 'Use a recovery code'}
        </button>
        {withPasskey ? (
          <button type="button" className="button-quiet" disabled={action.busy} onClick={() => void action.run('passkey')}>
            Use a passkey
          </button>
        ) : null}
        <button type="button" className="button-quiet" onClick={() => onRestart('back')}>
          Start over
        </button>
      </div>
    </section>
  );
}

/**
 * The enrolment a sign-in asks for when the account's role requires a second factor
 * (MFA_REQUIRED_ROLES) and it has none: scan the QR code and confirm with the first code (the
 * recovery codes are then shown once on the Security page), or create a passkey.
 */
function EnrollStep({ challenge, onRestart }: { challenge: MfaEnrollmentRequired; onRestart: (why: 'expired' | 'back') => void }): ReactNode {
  const { startTotpEnrollmentToSignIn, confirmTotpEnrollmentToSignIn, enrollPasskeyToSignIn } = useAuth();
  const [qr, setQr] = useState<{ image: string; secret: string } | null>(null);
  const [code, setCode] = useState('');
  // One enrolment per token: StrictMode runs effects twice, and a second start would replace the
  // secret the first QR code shows.
  const started = useRef<string | null>(null);
  const begin = useAction(async () => {
    const enrollment = await startTotpEnrollmentToSignIn(challenge.mfaToken);
    setQr({ image: enrollment.qr_code, secret: enrollment.secret });
  });
  const finish = useAction(async (how: 'code' | 'passkey') => {
    try {
      if (how === 'passkey') {
        await enrollPasskeyToSignIn(challenge.mfaToken);
        go('security');
        return;
      }
      const { user, recoveryCodes } = await confirmTotpEnrollmentToSignIn(challenge.mfaToken, code.trim());
      keepRecoveryCodes(user.id, recoveryCodes);
      go('security');
    } catch (error) {
      if (isCode(error, 'MFA_TOKEN_INVALID')) onRestart('expired');
      else {
        setCode('');
        throw error;
      }
    }
  });
  const wait = useRetryAfter(finish.error);

  useEffect(() => {
    if (started.current === challenge.mfaToken) return;
    started.current = challenge.mfaToken;
    void begin.run();
  }, [challenge.mfaToken]); // eslint-disable-line react-hooks/exhaustive-deps -- once per token

  return (
    <section className="card narrow">
      <h1>Set up two-step verification</h1>
      <p className="muted">
        Your account&apos;s role requires a second factor. Scan the QR code with an authenticator app and enter the code it shows to finish
        signing in{passkeysSupported() ? ', or use a passkey' : ''}.
      </p>
      <ErrorAlert error={begin.error ?? finish.error} wait={wait} limited="Too many wrong codes." />
      {qr ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void finish.run('code');
          }}
        >
          <img className="qr" src={qr.image} alt="QR code for your authenticator app" width={200} height={200} />
          <p className="hint">
            Or type this key into the app: <code data-testid="totp-secret">{qr.secret}</code>
          </p>
          <CodeField value={code} onChange={setCode} />
          <button type="submit" className="button-primary" disabled={finish.busy || wait > 0}>
            {finish.busy ? 'Verifying…' : 'Confirm and sign in'}
          </button>
        </form>
      ) : begin.error ? null : (
        <p className="muted" role="status">
          Preparing…
        </p>
      )}
      <div className="actions">
        {passkeysSupported() ? (
          <button type="button" className="button-quiet" disabled={finish.busy} onClick={() => void finish.run('passkey')}>
            Use a passkey instead
          </button>
        ) : null}
        <button type="button" className="button-quiet" onClick={() => onRestart('back')}>
          Start over
        </button>
      </div>
    </section>
  );
}

/** The authenticator app's 6-digit code (the code step and the enrolment's first code). */
function CodeField({ value, onChange }: { value: string; onChange: (value: string) => void }): ReactNode {
  return (
    <Field
      label="Authentication code"
      name="code"
      autoComplete="one-time-code"
      value={value}
      onChange={onChange}
      hint="The 6-digit code your authenticator app shows now."
      required
    />
  );
}
