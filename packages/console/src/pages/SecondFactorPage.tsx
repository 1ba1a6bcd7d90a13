import { passkeysSupported, type MfaEnrollmentRequired, type MfaRequired, type User } from '@latchkey/client';
import { useAuth, useRetryAfter } from '@latchkey/client/react';
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Alert, describeSignInError, Field, formatWait, isCode } from '../forms.tsx';

/** The step after a right password: a second factor to answer, or (MFA_REQUIRED_ROLES) one to enrol. */
export type SecondStep = MfaRequired | MfaEnrollmentRequired;

interface Props {
  step: SecondStep;
  /** Runs the call that signs in; the console then checks the admin role. `recoveryCodes` are shown once. */
  finish: (signIn: () => Promise<{ user: User; recoveryCodes?: string[] }>) => Promise<void>;
  /** Back to the email and password (the step's token is dropped). */
  onCancel: () => void;
}

function describeStepError(error: unknown, wait: number): string {
  if (isCode(error, 'RATE_LIMITED')) return `Too many wrong codes. ${wait > 0 ? `Try again in ${formatWait(wait)}.` : 'You can try again now.'}`;
  if (isCode(error, 'INVALID_MFA_CODE')) return 'That code is wrong, expired or already used. Enter the code your app shows now.';
  if (isCode(error, 'MFA_TOKEN_INVALID')) return 'This sign-in has expired. Go back and enter your password again.';
  if (isCode(error, 'PASSKEY_CANCELLED')) return 'The passkey dialog was closed. Try again, or use a code.';
  return describeSignInError(error);
}

/** The console's second sign-in step: a code (or recovery code, or passkey), or enrolling an authenticator. */
export function SecondFactorPage({ step, finish, onCancel }: Props): ReactNode {
  return step.status === 'mfa_required' ? (
    <CodeStep step={step} finish={finish} onCancel={onCancel} />
  ) : (
    <EnrollStep step={step} finish={finish} onCancel={onCancel} />
  );
}

function CodeStep({ step, finish, onCancel }: Props & { step: MfaRequired }): ReactNode {
  const { verifyMfa } = useAuth();
  const [useRecovery, setUseRecovery] = useState(false);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const wait = useRetryAfter(error);
  const hasCode = step.factors.includes('totp');
  const hasPasskey = step.factors.includes('passkey') && passkeysSupported();

  const run = async (signIn: () => Promise<User>) => {
    setBusy(true);
    setError(null);
    try {
      await finish(async () => ({ user: await signIn() }));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const submit = () =>
    run(() =>
      useRecovery
        ? verifyMfa({ mfaToken: step.mfaToken, recoveryCode: code.trim() })
        : verifyMfa({ mfaToken: step.mfaToken, code: code.replace(/\s+/g, '') }),
    );

  return (
    <section className="card narrow">
      <h1>Second factor</h1>
      <p className="muted intro">
        {hasCode
          ? useRecovery
            ? 'Enter one of your recovery codes. Each works once.'
            : 'Enter the 6-digit code your authenticator app shows for this account.'
          : 'Confirm with your passkey.'}
      </p>
      {error ? <Alert kind="error">{describeStepError(error, wait)}</Alert> : null}
      {hasCode ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          {useRecovery ? (
            <Field label="Recovery code" name="recovery-code" autoComplete="off" value={code} onChange={setCode} required />
          ) : (
            <Field label="Code" name="mfa-code" autoComplete="one-time-code" value={code} onChange={setCode} required />
          )}
          <div className="form-actions">
            <button type="submit" className="button-primary" disabled={busy || wait > 0}>
              {busy ? 'Checking…' : 'Verify'}
            </button>
            <button
              type="button"
              className="button-quiet"
              onClick={() => {
                setUseRecovery(!useRecovery);
                setCode('');
                setError(null);
              }}
            >
              {useRecovery ? 'Use a code from the app' : 'Use a recovery code'}
            </button>
          </div>
        </form>
      ) : null}
      <div className="form-actions step-alternatives">
        {hasPasskey ? (
          <button type="button" className={hasCode ? 'button-quiet' : 'button-primary'} disabled={busy} onClick={() => void run(() => verifyMfa({ mfaToken: step.mfaToken, passkey: true }))}>
            Use a passkey
          </button>
        ) : null}
        <button type="button" className="button-quiet" onClick={onCancel}>
          Back
        </button>
      </div>
    </section>
  );
}

function EnrollStep({ step, finish, onCancel }: Props & { step: MfaEnrollmentRequired }): ReactNode {
  const { startTotpEnrollmentToSignIn, confirmTotpEnrollmentToSignIn, enrollPasskeyToSignIn } = useAuth();
  const [enrollment, setEnrollment] = useState<{ qr: string; secret: string } | null>(null);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const wait = useRetryAfter(error);
  // One enrolment per token: StrictMode runs effects twice in development, and a second start
  // would replace the secret the first QR code shows.
  const started = useRef<string | null>(null);

  useEffect(() => {
    if (started.current === step.mfaToken) return;
    started.current = step.mfaToken;
    startTotpEnrollmentToSignIn(step.mfaToken).then(
      (e) => setEnrollment({ qr: e.qr_code, secret: e.secret }),
      setError,
    );
  }, [step.mfaToken, startTotpEnrollmentToSignIn]);

  const run = async (signIn: () => Promise<{ user: User; recoveryCodes?: string[] }>) => {
    setBusy(true);
    setError(null);
    try {
      await finish(signIn);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card narrow">
      <h1>Set up a second factor</h1>
      <p className="muted intro">
        Your role requires a second factor. Scan this QR code with an authenticator app, then enter the code it shows to finish signing in.
      </p>
      {error ? <Alert kind="error">{describeStepError(error, wait)}</Alert> : null}
      {enrollment ? (
        <>
          <img className="qr" src={enrollment.qr} alt="QR code for your authenticator app" width={200} height={200} />
          <p className="hint">
            Or type this key into the app: <code data-testid="totp-secret">{enrollment.secret}</code>
          </p>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void run(() => confirmTotpEnrollmentToSignIn(step.mfaToken, code.replace(/\s+/g, '')));
            }}
          >
            <Field label="Code" name="enroll-code" autoComplete="one-time-code" value={code} onChange={setCode} required />
            <button type="submit" className="button-primary" disabled={busy || wait > 0}>
              {busy ? 'Checking…' : 'Confirm and sign in'}
            </button>
          </form>
        </>
      ) : error ? null : (
        <p className="muted" role="status">
          Preparing…
        </p>
      )}
      <div className="form-actions step-alternatives">
        {passkeysSupported() ? (
          <button type="button" className="button-quiet" disabled={busy} onClick={() => void run(() => enrollPasskeyToSignIn(step.mfaToken, 'Console'))}>
            Use a passkey instead
          </button>
        ) : null}
        <button type="button" className="button-quiet" onClick={onCancel}>
          Back
        </button>
      </div>
    </section>
  );
}

/** The recovery codes of an enrolment at sign-in: shown this once, before the console opens. */
export function RecoveryCodesPage({ codes, onContinue }: { codes: string[]; onContinue: () => void }): ReactNode {
  return (
    <section className="card narrow">
      <h1>Save your recovery codes</h1>
      <p className="muted intro">
        Each code signs you in once if you lose your authenticator. They are shown only now: keep them somewhere safe, away from the
        device with the app.
      </p>
      <ul className="recovery-codes" data-testid="recovery-codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
      <button type="button" className="button-primary" onClick={onContinue}>
        I have saved them — continue
      </button>
    </section>
  );
}
