import { LatchkeyError } from '@latchkey/client';
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { invalidRoles, parseRoles, type AdminIdentityList, type AdminUser, type SecurityEvent, type UserDetail, type UserFactors, type UserPatch } from '../api.ts';
import { useAdminApi } from '../console-context.tsx';
import { describeDevice, formatDate } from '../format.ts';
import { consoleHref, goTo } from '../route.ts';
import { ErrorMessage, FlashMessage, formatAgo, useFlash, type Flash } from '../shared.tsx';

interface Props {
  id: string;
  /** The signed-in admin's own id: their own row gets a warning about signing themselves out. */
  selfId: string;
  flash: Flash | null;
  onFlashShown: () => void;
  onDeleted: (message: string) => void;
}

/** One row of the user page's Account section: where the account stands, and the button that changes it. */
interface AccountSetting {
  /** Also the `busy` label while its call runs. */
  key: string;
  title: string;
  state: string;
  hint: string;
  label: string;
  className: string;
  run: () => Promise<void>;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function sameRoles(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((r) => b.includes(r));
}

function detailText(detail: SecurityEvent['detail']): string {
  if (!detail) return '';
  return Object.entries(detail)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k.replace(/_/g, ' ')}: ${Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' · ');
}

/** One user: account switches, name and roles, live sessions, recent events, delete. */
export function UserPage({ id, selfId, flash, onFlashShown, onDeleted }: Props): ReactNode {
  const api = useAdminApi();
  const [shownFlash, setFlash] = useFlash(flash, onFlashShown);
  const [detail, setDetail] = useState<UserDetail | null>(null);
  /** Linked provider accounts (social sign-in); loaded beside the user. */
  const [identities, setIdentities] = useState<AdminIdentityList | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [rolesText, setRolesText] = useState('');
  const [email, setEmail] = useState('');
  const [emailVerified, setEmailVerified] = useState(false);
  const [confirmingDelete, setConfirmingDelete] = useState(false);
  const [factors, setFactors] = useState<UserFactors | null>(null);
  const [confirmingReset, setConfirmingReset] = useState(false);
  const messages = useRef<HTMLDivElement>(null);

  // The outcome of an action shows at the top: bring it into view when the action was further down.
  useEffect(() => {
    if (error || shownFlash) messages.current?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }, [error, shownFlash]);

  const fillForm = (user: AdminUser) => {
    setName(user.name ?? '');
    setRolesText(user.roles.join(', '));
    setEmail(user.email);
    setEmailVerified(false);
  };

  // The user this page shows now, and the user the form was last filled for: a late answer for
  // another user is dropped, and a repeated load never overwrites what the admin is editing.
  const currentId = useRef(id);
  currentId.current = id;
  const formFilledFor = useRef<string | null>(null);

  const load = async (resetForm: boolean): Promise<void> => {
    const [next, nextFactors, linked] = await Promise.all([api.getUser(id), api.getFactors(id), api.listIdentities(id)]);
    if (next.user.id !== currentId.current) return;
    setDetail(next);
    setFactors(nextFactors);
    setIdentities(linked);
    setLoadError(null);
    if (resetForm || formFilledFor.current !== next.user.id) {
      fillForm(next.user);
      formFilledFor.current = next.user.id;
    }
  };

  useEffect(() => {
    load(false).catch(setLoadError);
  }, [api, id]); // eslint-disable-line react-hooks/exhaustive-deps -- load once per user

  /** Runs one change, then shows the server's new state (sessions and events included). */
  const act = async (label: string, change: () => Promise<string>, resetForm = false) => {
    setBusy(label);
    setError(null);
    setFlash(null);
    try {
      const message = await change();
      // "Saved." appears with the server's new state, not before it: the page reloads the user,
      // factors and identities first (a reload that fails says so; the change itself was made).
      await load(resetForm).catch(setError);
      setFlash({ kind: 'success', text: message });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  if (!detail) {
    return (
      <section className="card admin">
        <p className="back">
          <a href={consoleHref({ page: 'users' })}>← All users</a>
        </p>
        {loadError ? (
          <ErrorMessage error={loadError} />
        ) : (
          <p className="muted" role="status">
            Loading user…
          </p>
        )}
      </section>
    );
  }

  const { user, sessions, events } = detail;
  const isSelf = user.id === selfId;
  const roles = parseRoles(rolesText);
  const formChanged = (name.trim() || null) !== user.name || !sameRoles(roles, user.roles);
  const rolesChanged = !sameRoles(roles, user.roles);
  const emailChanged = email.trim().toLowerCase() !== user.email;

  const toggleDisabled = () =>
    act('disabled', async () => {
      const live = sessions.length;
      const updated = await api.updateUser(id, { disabled: !user.disabled });
      if (!updated.disabled) return 'Account enabled. The user can log in again.';
      return live > 0 ? `Account disabled; ${plural(live, 'session')} ended.` : 'Account disabled.';
    });
  const toggleVerified = () =>
    act('verified', async () => {
      const updated = await api.updateUser(id, { email_verified: !user.email_verified });
      return updated.email_verified ? 'Email marked as verified.' : 'Email marked as not verified.';
    });
  const saveProfile = () =>
    act(
      'profile',
      async () => {
        const bad = invalidRoles(roles);
        if (bad.length > 0) {
          throw new LatchkeyError('VALIDATION_FAILED', 'Invalid role.', 0, [
            { field: 'roles', message: `${bad.join(', ')}: a role is lower-case letters, digits and _ . : - (at most 64)` },
          ]);
        }
        const patch: UserPatch = {};
        if ((name.trim() || null) !== user.name) patch.name = name.trim() || null;
        if (rolesChanged) patch.roles = roles;
        const live = sessions.length;
        await api.updateUser(id, patch);
        return patch.roles && live > 0 ? `Saved; roles changed, so ${plural(live, 'session')} ended.` : 'Saved.';
      },
      true,
    );
  const saveEmail = () =>
    act(
      'email',
      async () => {
        const updated = await api.updateUser(id, { email: email.trim(), ...(emailVerified ? { email_verified: true } : {}) });
        return updated.email_verified
          ? `Email changed to ${updated.email} (marked verified).`
          : `Email changed to ${updated.email}; it is not verified yet. Links mailed to the old address no longer work.`;
      },
      true,
    );
  const sendReset = () =>
    act('reset', async () => {
      await api.sendPasswordReset(id);
      return `A password-reset link was mailed to ${user.email}.`;
    });
  const resendInvite = () =>
    act('invite', async () => {
      await api.inviteUser({ email: user.email });
      return `A new invitation was mailed to ${user.email}; the previous link no longer works.`;
    });
  const revokeOne = (sessionId: string) =>
    act(`session:${sessionId}`, async () => {
      await api.revokeSession(id, sessionId);
      return 'Session revoked.';
    });
  const unlinkIdentity = (identityId: string, label: string) =>
    act(`identity:${identityId}`, async () => {
      await api.unlinkIdentity(id, identityId);
      return `${label} unlinked. The user can no longer sign in with it.`;
    });
  const revokeAll = () =>
    act('sessions', async () => {
      const n = await api.revokeAllSessions(id);
      return n > 0 ? `${plural(n, 'session')} revoked.` : 'There were no live sessions.';
    });
  const resetFactors = () =>
    act('factors', async () => {
      setConfirmingReset(false);
      const removed = await api.resetFactors(id);
      const parts = [
        removed.totp > 0 ? 'the authenticator app' : null,
        removed.recovery_codes > 0 ? plural(removed.recovery_codes, 'recovery code') : null,
        removed.passkeys > 0 ? plural(removed.passkeys, 'passkey') : null,
      ].filter(Boolean);
      return parts.length > 0 ? `Second factors reset: removed ${parts.join(', ')}. The user was mailed.` : 'The user had no second factors.';
    });
  const remove = async () => {
    setBusy('delete');
    setError(null);
    try {
      await api.deleteUser(id);
      onDeleted(`Deleted ${user.email}.`);
      goTo({ page: 'users' });
    } catch (e) {
      setError(e);
      setConfirmingDelete(false);
    } finally {
      setBusy(null);
    }
  };
  // The account's one-click actions, one row each. A new action is one more entry with its call in api.ts.
  const password: AccountSetting = user.invite_pending
    ? {
        key: 'invite',
        title: 'Password',
        state: 'not set (invitation pending)',
        hint: 'The user has not chosen a password yet. A new invitation link replaces the old one.',
        label: 'Resend invitation',
        className: 'button-quiet',
        run: resendInvite,
      }
    : identities && !identities.has_password
      ? {
          // An account made by a social sign-in: the reset link is how its owner sets a first password.
          key: 'reset',
          title: 'Password',
          state: 'not set (signs in through a connected account)',
          hint: 'Mails the user a link to choose a password, as “Forgot password?” does (at most 3 per 15 minutes).',
          label: 'Send password-reset link',
          className: 'button-quiet',
          run: sendReset,
        }
      : {
          key: 'reset',
          title: 'Password',
          state: 'set',
          hint: 'Mails the user a link to choose a new password, as “Forgot password?” does (at most 3 per 15 minutes).',
          label: 'Send password-reset link',
          className: 'button-quiet',
          run: sendReset,
        };
  const settings: AccountSetting[] = [
    {
      key: 'disabled',
      title: 'Status',
      state: user.disabled ? 'disabled' : 'active',
      hint: 'Disabling refuses logins and ends every session at once.',
      label: user.disabled ? 'Enable account' : 'Disable account',
      className: user.disabled ? 'button-quiet' : 'button-danger',
      run: toggleDisabled,
    },
    {
      key: 'verified',
      title: 'Email',
      state: user.email_verified ? 'verified' : 'not verified',
      hint: 'Marks the address as confirmed without the emailed link (or undoes it).',
      label: user.email_verified ? 'Mark not verified' : 'Mark verified',
      className: 'button-quiet',
      run: toggleVerified,
    },
    password,
  ];
  const toggleAdminRole = (on: boolean) => {
    const next = on ? [...roles, 'admin'] : roles.filter((r) => r !== 'admin');
    setRolesText([...new Set(next)].join(', '));
  };

  return (
    <section className="card admin" aria-busy={busy !== null}>
      <p className="back">
        <a href={consoleHref({ page: 'users' })}>← All users</a>
      </p>
      <div className="user-head">
        <h1>{user.email}</h1>
        {isSelf ? <span className="badge">you</span> : null}
        {user.disabled ? <span className="badge badge-danger">disabled</span> : <span className="badge badge-ok">active</span>}
        {user.email_verified ? <span className="badge badge-ok">verified</span> : <span className="badge">not verified</span>}
        {user.invite_pending ? <span className="badge badge-invited">invitation pending</span> : null}
      </div>
      <div ref={messages}>
        <FlashMessage flash={shownFlash} />
        <ErrorMessage error={error} />
      </div>

      <dl className="facts">
        <dt>Name</dt>
        <dd>{user.name ?? <span className="muted">—</span>}</dd>
        <dt>Roles</dt>
        <dd>{user.roles.length ? user.roles.map((r) => <span key={r} className="chip">{r}</span>) : <span className="muted">none</span>}</dd>
        <dt>Created</dt>
        <dd>{formatDate(user.created_at)}</dd>
        <dt>Updated</dt>
        <dd>{formatDate(user.updated_at)}</dd>
        <dt>Last sign-in</dt>
        <dd data-testid="last-sign-in">{user.last_sign_in_at ? formatDate(user.last_sign_in_at) : <span className="muted">never</span>}</dd>
        <dt>ID</dt>
        <dd>
          <code>{user.id}</code>
        </dd>
      </dl>

      <h2>Account</h2>
      {isSelf ? (
        <p className="alert alert-warn">This is your own account: disabling it or changing its roles signs you out.</p>
      ) : null}
      <div className="settings">
        {settings.map((setting) => (
          <div className="setting" key={setting.key}>
            <div>
              <div className="setting-title">
                {setting.title}: <strong>{setting.state}</strong>
              </div>
              <p className="hint">{setting.hint}</p>
            </div>
            <button type="button" className={setting.className} disabled={busy !== null} onClick={() => void setting.run()}>
              {busy === setting.key ? 'Saving…' : setting.label}
            </button>
          </div>
        ))}
      </div>

      <h2>Email address</h2>
      <form
        className="profile-form"
        onSubmit={(e) => {
          e.preventDefault();
          void saveEmail();
        }}
      >
        <div className="field">
          <label htmlFor="admin-user-email">Email</label>
          <input
            id="admin-user-email"
            type="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            autoComplete="off"
            aria-describedby="admin-user-email-hint"
          />
          <p className="hint" id="admin-user-email-hint">
            The user signs in with it. A new address is not verified until the user confirms it; links already mailed to the old one stop
            working. Sessions stay.
          </p>
        </div>
        {emailChanged ? (
          <label className="check">
            <input type="checkbox" checked={emailVerified} onChange={(e) => setEmailVerified(e.target.checked)} /> The new address is
            already verified
          </label>
        ) : null}
        <div className="form-actions">
          <button type="submit" className="button-primary" disabled={busy !== null || !emailChanged || email.trim() === ''}>
            {busy === 'email' ? 'Saving…' : 'Change email'}
          </button>
          {emailChanged ? (
            <button type="button" className="button-quiet" onClick={() => setEmail(user.email)}>
              Undo
            </button>
          ) : null}
        </div>
      </form>

      <h2>Name and roles</h2>
      <form
        className="profile-form"
        onSubmit={(e) => {
          e.preventDefault();
          void saveProfile();
        }}
      >
        <div className="field">
          <label htmlFor="admin-user-name">Name</label>
          <input id="admin-user-name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
        </div>
        <div className="field">
          <label htmlFor="admin-user-roles">Roles</label>
          <input
            id="admin-user-roles"
            value={rolesText}
            onChange={(e) => setRolesText(e.target.value)}
            autoComplete="off"
            placeholder="none"
            aria-describedby="admin-user-roles-hint"
          />
          <p className="hint" id="admin-user-roles-hint">
            Comma-separated, e.g. <code>admin, editor</code>. A change ends the user's sessions: their tokens carry the old roles.
          </p>
        </div>
        <label className="check">
          <input type="checkbox" checked={roles.includes('admin')} onChange={(e) => toggleAdminRole(e.target.checked)} /> Admin (may use
          this console)
        </label>
        <div className="form-actions">
          <button type="submit" className="button-primary" disabled={busy !== null || !formChanged}>
            {busy === 'profile' ? 'Saving…' : rolesChanged ? 'Save and end sessions' : 'Save'}
          </button>
          {formChanged ? (
            <button
              type="button"
              className="button-quiet"
              onClick={() => {
                setName(user.name ?? '');
                setRolesText(user.roles.join(', '));
              }}
            >
              Undo
            </button>
          ) : null}
        </div>
      </form>

      {factors ? (
        <SecondFactors
          factors={factors}
          busy={busy}
          confirming={confirmingReset}
          onAsk={() => {
            setFlash(null);
            setError(null);
            setConfirmingReset(true);
          }}
          onCancel={() => setConfirmingReset(false)}
          onReset={() => void resetFactors()}
          email={user.email}
        />
      ) : null}

      <div className="section-head">
        <h2>Sessions ({sessions.length})</h2>
        <button type="button" className="button-quiet" disabled={busy !== null || sessions.length === 0} onClick={() => void revokeAll()}>
          {busy === 'sessions' ? 'Revoking…' : 'Revoke all sessions'}
        </button>
      </div>
      {sessions.length === 0 ? (
        <p className="muted" data-testid="no-sessions">
          No live sessions.
        </p>
      ) : (
        <div className="table-scroll">
          <table className="admin-table" aria-label="Sessions">
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">IP</th>
                <th scope="col">Signed in</th>
                <th scope="col">Last active</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((s) => (
                <tr key={s.id} data-session-id={s.id}>
                  <td title={s.user_agent ?? undefined}>{describeDevice(s.user_agent)}</td>
                  <td>{s.ip ?? <span className="muted">—</span>}</td>
                  <td className="cell-date">{formatDate(s.created_at)}</td>
                  <td className="cell-date">{formatAgo(s.last_used_at)}</td>
                  <td className="cell-date">{formatDate(s.expires_at)}</td>
                  <td className="cell-action">
                    <button
                      type="button"
                      className="button-quiet"
                      disabled={busy !== null}
                      aria-label={`Revoke session ${describeDevice(s.user_agent)} from ${s.ip ?? 'unknown address'}`}
                      onClick={() => void revokeOne(s.id)}
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2>Connected accounts ({identities?.identities.length ?? 0})</h2>
      {!identities || identities.identities.length === 0 ? (
        <p className="muted" data-testid="no-identities">
          No linked provider accounts.
        </p>
      ) : (
        <div className="table-scroll">
          <table className="admin-table" aria-label="Connected accounts">
            <thead>
              <tr>
                <th scope="col">Provider</th>
                <th scope="col">Email at the provider</th>
                <th scope="col">Linked</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {identities.identities.map((i) => (
                <tr key={i.id} data-identity-id={i.id}>
                  <td>{i.provider_name}</td>
                  <td>
                    {i.email ?? <span className="muted">—</span>}{' '}
                    {i.email ? <span className={i.email_verified ? 'badge badge-ok' : 'badge'}>{i.email_verified ? 'verified' : 'not verified'}</span> : null}
                  </td>
                  <td className="cell-date">{formatDate(i.created_at)}</td>
                  <td className="cell-date">{i.last_used_at ? formatAgo(i.last_used_at) : <span className="muted">never</span>}</td>
                  <td className="cell-action">
                    <button
                      type="button"
                      className="button-quiet"
                      disabled={busy !== null}
                      aria-label={`Unlink ${i.provider_name}${i.email ? ` ${i.email}` : ''}`}
                      onClick={() => void unlinkIdentity(i.id, `${i.provider_name} account`)}
                    >
                      {busy === `identity:${i.id}` ? 'Unlinking…' : 'Unlink'}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {identities && !identities.has_password ? (
        <p className="hint" data-testid="no-password">
          This account has no password: the user signs in through a connected account (or a passkey). The last way in cannot be unlinked;
          a password-reset link lets the user set a password first.
        </p>
      ) : null}

      <h2>Recent events</h2>
      {events.length === 0 ? (
        <p className="muted">No events recorded.</p>
      ) : (
        <div className="table-scroll">
          <table className="admin-table events" aria-label="Recent events">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Event</th>
                <th scope="col">IP</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.id}>
                  <td className="cell-date">{formatDate(e.created_at)}</td>
                  <td>
                    <code>{e.type}</code>
                  </td>
                  <td>{e.ip ?? <span className="muted">—</span>}</td>
                  <td className="cell-detail">{detailText(e.detail)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <div className="danger-zone">
        <div>
          <h2>Delete this user</h2>
          <p className="muted">Removes the account with its sessions and events. This cannot be undone.</p>
        </div>
        {confirmingDelete ? null : (
          <button
            type="button"
            className="button-danger"
            disabled={busy !== null}
            onClick={() => {
              setFlash(null);
              setError(null);
              setConfirmingDelete(true);
            }}
          >
            Delete user…
          </button>
        )}
      </div>
      {confirmingDelete ? (
        <div className="confirm" role="alertdialog" aria-labelledby="confirm-delete-text">
          <p id="confirm-delete-text">
            Delete <strong>{user.email}</strong> permanently?
          </p>
          <div className="form-actions">
            <button type="button" className="button-danger-solid" disabled={busy !== null} onClick={() => void remove()}>
              {busy === 'delete' ? 'Deleting…' : 'Delete permanently'}
            </button>
            <button type="button" className="button-quiet" autoFocus disabled={busy !== null} onClick={() => setConfirmingDelete(false)}>
              Cancel
            </button>
          </div>
        </div>
      ) : null}
    </section>
  );
}

/** The user's second factors (authenticator, recovery codes, passkeys) and the reset, behind a confirmation. */
function SecondFactors(props: {
  factors: UserFactors;
  busy: string | null;
  confirming: boolean;
  email: string;
  onAsk: () => void;
  onCancel: () => void;
  onReset: () => void;
}): ReactNode {
  const { factors, busy, confirming } = props;
  const totp = factors.factors.find((f) => f.type === 'totp');
  const none = !totp && factors.passkeys.length === 0 && factors.recovery_codes_left === 0;
  return (
    <>
      <div className="section-head">
        <h2>Second factors</h2>
        {confirming ? null : (
          <button type="button" className="button-danger" disabled={busy !== null || none} onClick={props.onAsk}>
            {busy === 'factors' ? 'Resetting…' : 'Reset second factors…'}
          </button>
        )}
      </div>
      {factors.mfa_required ? <p className="hint">A role of this user requires a second factor: after a reset they add one at their next sign-in.</p> : null}
      <dl className="facts" data-testid="factors">
        <dt>Authenticator app</dt>
        <dd data-testid="factor-totp">
          {totp ? (totp.status === 'active' ? `yes (since ${formatDate(totp.confirmed_at ?? totp.created_at)})` : 'pending (not confirmed)') : 'no'}
        </dd>
        <dt>Recovery codes left</dt>
        <dd data-testid="factor-recovery-codes">{factors.recovery_codes_left}</dd>
        <dt>Passkeys</dt>
        <dd data-testid="factor-passkeys">
          {factors.passkeys.length === 0 ? (
            'none'
          ) : (
            <ul className="plain-list">
              {factors.passkeys.map((p) => (
                <li key={p.id}>
                  <strong>{p.name}</strong> · {p.device_type === 'multiDevice' ? 'synced' : 'this device only'} · added {formatDate(p.created_at)} · last used{' '}
                  {p.last_used_at ? formatDate(p.last_used_at) : 'never'}
                </li>
              ))}
            </ul>
          )}
        </dd>
      </dl>
      {confirming ? (
        <div className="confirm" role="alertdialog" aria-labelledby="confirm-factors-text">
          <p id="confirm-factors-text">
            Remove every second factor of <strong>{props.email}</strong> (authenticator app, recovery codes and passkeys)?{' '}
            {factors.mfa_required
              ? 'Their role requires a second factor: at their next sign-in they must add a new one.'
              : 'They can sign in with their password alone until they add new ones.'}{' '}
            They will be mailed about it.
          </p>
          <div className="form-actions">
            <button type="button" className="button-danger-solid" disabled={busy !== null} onClick={props.onReset}>
              Reset second factors
            </button>
            <button type="button" className="button-quiet" autoFocus disabled={busy !== null} onClick={props.onCancel}>
              Cancel
            </button>
          </div>
        </div>
      ) : null}
    </>
  );
}
