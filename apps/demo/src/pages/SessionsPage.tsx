import type { Session } from '@latchkey/client';
import { useAuth } from '@latchkey/client/react';
import { useEffect, useState, type ReactNode } from 'react';
import { Alert, describe, useAction } from '../forms.tsx';
import { describeDevice, formatDate } from '../format.ts';

export function SessionsPage(): ReactNode {
  const { client } = useAuth();
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const load = useAction(async () => setSessions(await client.sessions()));
  const revoke = useAction(async (id: string) => {
    await client.revokeSession(id);
    setSessions((list) => list?.filter((s) => s.id !== id) ?? null);
  });
  const everywhere = useAction(() => client.logoutAll());
  const reload = () => void load.run();

  useEffect(() => {
    void load.run();
  }, [client]); // eslint-disable-line react-hooks/exhaustive-deps -- load.run is new each render; load once per client

  const error = load.error ?? revoke.error ?? everywhere.error;
  return (
    <section className="card">
      <div className="card-head">
        <h1>Sessions</h1>
        <button type="button" className="button-quiet" onClick={reload} disabled={load.busy}>
          Refresh list
        </button>
      </div>
      <p className="muted">Every browser and device signed in to your account. Revoke any you do not recognise.</p>
      {error ? <Alert kind="error">{describe(error)}</Alert> : null}
      {sessions === null ? (
        <p className="muted" role="status">
          Loading sessions…
        </p>
      ) : (
        <ul className="sessions" aria-label="Active sessions">
          {sessions.map((s) => (
            <li key={s.id} className="session" data-session-id={s.id}>
              <div className="session-main">
                <span className="session-device">
                  {describeDevice(s.user_agent)}
                  {s.current ? <span className="badge badge-ok">this browser</span> : null}
                </span>
                <span className="session-meta">
                  {s.ip ?? 'unknown address'} · signed in {formatDate(s.created_at)} · last active {formatDate(s.last_used_at)}
                </span>
              </div>
              <button
                type="button"
                className="button-quiet"
                disabled={revoke.busy}
                aria-label={s.current ? 'Sign out this browser' : `Revoke session ${describeDevice(s.user_agent)}`}
                onClick={() => void revoke.run(s.id)}
              >
                {s.current ? 'Sign out' : 'Revoke'}
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="danger-zone">
        <div>
          <h2>Sign out of every device</h2>
          <p className="muted">Ends every session of your account, including this one.</p>
        </div>
        <button type="button" className="button-danger" disabled={everywhere.busy} onClick={() => void everywhere.run()}>
          Log out everywhere
        </button>
      </div>
    </section>
  );
}
