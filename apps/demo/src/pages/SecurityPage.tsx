import { passkeysSupported, type FactorList, type IdentityList, type Passkey, type TotpEnrollment } from '@latchkey/client';
import { useAuth, useProviders } from '@latchkey/client/react';
import { useEffect, useState, type ReactNode } from 'react';
import { useStepUp } from '../confirm.tsx';
import { forgetRecoveryCodes, useKeptRecoveryCodes } from '../enrolled-codes.ts';
import { Alert, describe, Field, isCode, useAction } from '../forms.tsx';
import { formatDate } from '../format.ts';

/**
 * The account's second factors: the authenticator app (TOTP) with its recovery codes, and
 * passkeys. A change the server protects (REAUTHENTICATION_REQUIRED: the session's sign-in is
 * older than STEP_UP_MAX_AGE) opens "Confirm it's you" and is sent again once confirmed.
 */
export function SecurityPage(): ReactNode {
  const { listFactors, listPasskeys, listIdentities } = useAuth();
  const [factors, setFactors] = useState<FactorList | null>(null);
  const [passkeys, setPasskeys] = useState<Passkey[] | null>(null);
  const [identities, setIdentities] = useState<IdentityList | null>(null);
  const load = useAction(async () => {
    const [f, p, i] = await Promise.all([listFactors(), listPasskeys(), listIdentities()]);
    setFactors(f);
    setPasskeys(p);
    setIdentities(i);
  });
  const reload = () => load.run();

  useEffect(() => {
    void load.run();
  }, [listFactors]); // eslint-disable-line react-hooks/exhaustive-deps -- load once per client

  return (
    <section className="card">
      <h1>Security</h1>
      {load.error ? <Alert kind="error">{describe(load.error)}</Alert> : null}
      {factors === null || passkeys === null || identities === null ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : (
        <>
          <Authenticator factors={factors} onChange={reload} />
          <Passkeys passkeys={passkeys} onChange={reload} />
          <ConnectedAccounts list={identities} onChange={reload} />
        </>
      )}
    </section>
  );
}

function Authenticator({ factors, onChange }: { factors: FactorList; onChange: () => Promise<unknown> }): ReactNode {
  const { enrollTotp, confirmTotp, removeTotp, regenerateRecoveryCodes, user } = useAuth();
  const active = factors.factors.find((f) => f.type === 'totp' && f.status === 'active') ?? null;
  const [enrollment, setEnrollment] = useState<TotpEnrollment | null>(null);
  const [code, setCode] = useState('');
  /** Recovery codes just made: shown this once. */
  const [made, setCodes] = useState<string[] | null>(null);
  // Or those of an enrolment at sign-in (a role that requires a second factor), carried here.
  const kept = useKeptRecoveryCodes(user?.id);
  const codes = made ?? kept;
  const start = useAction(async () => {
    setEnrollment(await enrollTotp());
    setCode('');
  });
  const confirm = useAction(async () => {
    const confirmed = await confirmTotp(code.trim());
    setEnrollment(null);
    setCodes(confirmed.recovery_codes);
    await onChange();
  });
  const regenerate = useStepUp(async () => {
    setCodes(await regenerateRecoveryCodes());
    await onChange();
  });
  const remove = useStepUp(async () => {
    await removeTotp();
    setCodes(null);
    await onChange();
  });
  const error = start.error ?? regenerate.error ?? remove.error;

  return (
    <div className="security-section" aria-labelledby="authenticator-heading">
      <h2 id="authenticator-heading">Authenticator app</h2>
      {error ? <Alert kind="error">{describe(error)}</Alert> : null}
      {codes ? (
        <RecoveryCodes
          codes={codes}
          onDone={() => {
            forgetRecoveryCodes();
            setCodes(null);
          }}
        />
      ) : null}
      {active ? (
        <>
          <p>
            <span className="badge badge-ok">on</span> Since {formatDate(active.confirmed_at ?? active.created_at)}. Signing in asks for a code
            from the app after your password.
          </p>
          <p data-testid="recovery-codes-left">
            {factors.recovery_codes_left} of 10 recovery codes left.
          </p>
          <div className="actions">
            <button type="button" className="button-quiet" disabled={regenerate.busy} onClick={() => void regenerate.start()}>
              Generate new recovery codes
            </button>
            <button type="button" className="button-danger" disabled={remove.busy} onClick={() => void remove.start()}>
              Remove authenticator
            </button>
          </div>
          {regenerate.prompt ?? remove.prompt}
        </>
      ) : enrollment ? (
        <form
          className="enroll"
          onSubmit={(e) => {
            e.preventDefault();
            void confirm.run();
          }}
        >
          <p>Scan this code with your authenticator app (Google Authenticator, 1Password, Authy, …), then enter the code it shows.</p>
          <img className="qr" src={enrollment.qr_code} alt="QR code for your authenticator app" width={200} height={200} />
          <p className="muted">
            Cannot scan? Type this key instead: <code data-testid="totp-secret">{enrollment.secret}</code>
          </p>
          {confirm.error ? <Alert kind="error">{describe(confirm.error)}</Alert> : null}
          <Field label="Code from the app" name="totp-code" autoComplete="one-time-code" value={code} onChange={setCode} required />
          <div className="actions">
            <button type="submit" className="button-primary" disabled={confirm.busy}>
              {confirm.busy ? 'Checking…' : 'Turn on'}
            </button>
            <button type="button" className="button-quiet" onClick={() => setEnrollment(null)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <>
          <p className="muted">Ask for a code from an app on your phone after your password, so that a stolen password alone is not enough.</p>
          <button type="button" className="button-primary" disabled={start.busy} onClick={() => void start.run()}>
            Set up authenticator app
          </button>
        </>
      )}
    </div>
  );
}

/** The recovery codes, shown once, with copy and download. */
function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }): ReactNode {
  const [copied, setCopied] = useState(false);
  const text = `Recovery codes for ${location.host}\nEach works once, in place of a code from your authenticator app.\n\n${codes.join('\n')}\n`;
  const download = () => {
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'recovery-codes.txt';
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <div className="notice recovery" role="region" aria-label="Recovery codes">
      <h2>Save your recovery codes</h2>
      <p>
        If you lose your phone, each of these codes signs you in once. They are shown <strong>only now</strong>: store them somewhere safe, away
        from your phone.
      </p>
      <ol className="codes" data-testid="recovery-codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <div className="actions">
        <button
          type="button"
          className="button-quiet"
          onClick={() =>
            void navigator.clipboard.writeText(codes.join('\n')).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" className="button-quiet" onClick={download}>
          Download
        </button>
        <button type="button" className="button-primary" onClick={onDone}>
          I have saved them
        </button>
      </div>
    </div>
  );
}

function Passkeys({ passkeys, onChange }: { passkeys: Passkey[]; onChange: () => Promise<unknown> }): ReactNode {
  const { registerPasskey, renamePasskey, removePasskey } = useAuth();
  const [name, setName] = useState('');
  const [added, setAdded] = useState<string | null>(null);
  const [editing, setEditing] = useState<{ id: string; name: string } | null>(null);
  const add = useAction(async () => {
    setAdded(null);
    const passkey = await registerPasskey(name.trim() || undefined);
    setName('');
    setAdded(passkey.name);
    await onChange();
  });
  const rename = useAction(async () => {
    if (!editing) return;
    await renamePasskey(editing.id, editing.name.trim());
    setEditing(null);
    await onChange();
  });
  const remove = useStepUp(async (id: string) => {
    await removePasskey(id);
    await onChange();
  });
  const error = add.error ?? rename.error ?? remove.error;

  return (
    <div className="security-section" aria-labelledby="passkeys-heading">
      <h2 id="passkeys-heading">Passkeys</h2>
      <p className="muted">Sign in with your fingerprint, face, screen lock or a security key instead of a password.</p>
      {error ? <Alert kind="error">{describe(error)}</Alert> : null}
      {added ? <Alert kind="success">Passkey “{added}” added.</Alert> : null}
      {passkeys.length === 0 ? (
        <p className="muted">No passkeys yet.</p>
      ) : (
        <ul className="sessions" aria-label="Passkeys">
          {passkeys.map((p) => (
            <li key={p.id} className="session" data-passkey-id={p.id}>
              {editing?.id === p.id ? (
                <form
                  className="session-main inline-form"
                  onSubmit={(e) => {
                    e.preventDefault();
                    void rename.run();
                  }}
                >
                  <Field label="New name" name="passkey-name" value={editing.name} onChange={(v) => setEditing({ id: p.id, name: v })} required />
                  <div className="actions">
                    <button type="submit" className="button-primary" disabled={rename.busy}>
                      Save
                    </button>
                    <button type="button" className="button-quiet" onClick={() => setEditing(null)}>
                      Cancel
                    </button>
                  </div>
                </form>
              ) : (
                <>
                  <div className="session-main">
                    <span className="session-device">
                      {p.name}
                      <span className="badge">{p.device_type === 'multiDevice' ? 'synced' : 'this device only'}</span>
                    </span>
                    <span className="session-meta">
                      added {formatDate(p.created_at)} · {p.last_used_at ? `last used ${formatDate(p.last_used_at)}` : 'never used'}
                    </span>
                  </div>
                  <button type="button" className="button-quiet" aria-label={`Rename ${p.name}`} onClick={() => setEditing({ id: p.id, name: p.name })}>
                    Rename
                  </button>
                  <button type="button" className="button-quiet" aria-label={`Remove ${p.name}`} disabled={remove.busy} onClick={() => void remove.start(p.id)}>
                    Remove
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      {remove.prompt}
      {passkeysSupported() ? (
        <form
          className="add-passkey"
          onSubmit={(e) => {
            e.preventDefault();
            void add.run();
          }}
        >
          <Field label="Passkey name (optional)" name="new-passkey-name" value={name} onChange={setName} hint="To tell your passkeys apart, e.g. “Work laptop”." />
          <button type="submit" className="button-primary" disabled={add.busy}>
            {add.busy ? 'Waiting for your device…' : 'Add a passkey'}
          </button>
        </form>
      ) : (
        <p className="muted">This browser does not support passkeys.</p>
      )}
    </div>
  );
}

/**
 * The provider accounts linked to this one (docs/social-login.md): unlink, or link another. The
 * server refuses to unlink the last way in (LAST_SIGN_IN_METHOD); the refusal says what to do.
 */
function ConnectedAccounts({ list, onChange }: { list: IdentityList; onChange: () => Promise<unknown> }): ReactNode {
  const { user, linkProvider, unlinkIdentity, requestPasswordReset } = useAuth();
  const { providers } = useProviders();
  const [unlinked, setUnlinked] = useState<string | null>(null);
  const [mailed, setMailed] = useState(false);
  const unlink = useAction(async (id: string, name: string) => {
    setUnlinked(null);
    await unlinkIdentity(id);
    setUnlinked(name);
    await onChange();
  });
  const link = useAction(async (provider: string) => {
    await linkProvider(provider);
  });
  const mail = useAction(async () => {
    if (!user) return;
    await requestPasswordReset(user.email);
    setMailed(true);
  });
  const linkable = (providers ?? []).filter((p) => !list.identities.some((i) => i.provider === p.id));
  if (list.identities.length === 0 && (providers ?? []).length === 0) return null;
  const lastWay = isCode(unlink.error, 'LAST_SIGN_IN_METHOD');

  return (
    <div className="security-section" aria-labelledby="connected-heading">
      <h2 id="connected-heading">Connected accounts</h2>
      <p className="muted">Sign in with an account you have elsewhere. Linking needs you signed in here first, so nobody can attach their account to yours.</p>
      {lastWay ? (
        <div className="alert alert-error" role="alert" data-testid="last-sign-in-method">
          <p>
            <strong>This is your only way to sign in</strong>, so it cannot be unlinked: this account has no password, no passkey and no other
            connected account. Set a password first (we mail you a link), add a passkey, or link another account; then unlink this one.
          </p>
          {list.has_password ? null : mailed ? (
            <p>A link to set your password is on its way to {user?.email}.</p>
          ) : (
            <button type="button" className="button-quiet" disabled={mail.busy} onClick={() => void mail.run()}>
              Email me a link to set a password
            </button>
          )}
        </div>
      ) : unlink.error ? (
        <Alert kind="error">{describe(unlink.error)}</Alert>
      ) : null}
      {mail.error ? <Alert kind="error">{describe(mail.error)}</Alert> : null}
      {link.error ? <Alert kind="error">{describe(link.error)}</Alert> : null}
      {unlinked ? <Alert kind="success">{unlinked} account unlinked.</Alert> : null}
      {list.identities.length === 0 ? (
        <p className="muted">No connected accounts.</p>
      ) : (
        <ul className="sessions" aria-label="Connected accounts">
          {list.identities.map((i) => (
            <li key={i.id} className="session" data-identity-id={i.id}>
              <div className="session-main">
                <span className="session-device">
                  {i.provider_name}
                  {i.email ? <span className="identity-email"> · {i.email}</span> : null}
                  {i.email ? <span className={i.email_verified ? 'badge badge-ok' : 'badge'}>{i.email_verified ? 'verified' : 'not verified'}</span> : null}
                </span>
                <span className="session-meta">
                  linked {formatDate(i.created_at)} · {i.last_used_at ? `last used ${formatDate(i.last_used_at)}` : 'never used to sign in'}
                </span>
              </div>
              <button
                type="button"
                className="button-quiet"
                aria-label={`Unlink ${i.provider_name}${i.email ? ` ${i.email}` : ''}`}
                disabled={unlink.busy}
                onClick={() => void unlink.run(i.id, i.provider_name)}
              >
                Unlink
              </button>
            </li>
          ))}
        </ul>
      )}
      <p className="muted" data-testid="password-status">
        {list.has_password ? 'You also have a password.' : 'You have no password here: you sign in through a connected account or a passkey.'}
      </p>
      {linkable.length > 0 ? (
        <div className="actions">
          {linkable.map((p) => (
            <button key={p.id} type="button" className="button-quiet" data-provider={p.id} disabled={link.busy} onClick={() => void link.run(p.id)}>
              Link {p.name}
            </button>
          ))}
        </div>
      ) : null}
    </div>
  );
}
