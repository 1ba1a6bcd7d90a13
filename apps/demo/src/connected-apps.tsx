import type { ConnectedApp } from '@latchkey/client';
import { useConnectedApps } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { Alert, describe, useAction } from './forms.tsx';
import { formatDate } from './format.ts';

/** What each scope lets an app do, in the user's words. A custom scope (OAUTH_SCOPES) is shown by its name. */
const SCOPE_WORDS: Record<string, string> = {
  openid: 'Know who you are when you sign in',
  profile: 'See your name and language',
  email: 'See your email address',
  offline_access: 'Keep access while you are not using it',
  roles: 'See your roles',
};

export function scopeWords(scope: string): string {
  return SCOPE_WORDS[scope] ?? `Use “${scope}”`;
}

/** Only https and http links reach an href: a registered client_uri is the admin's text, not a trusted one. */
function webLink(uri: string | null): string | null {
  if (!uri) return null;
  try {
    const url = new URL(uri);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * The apps that sign the user in through Latchkey (its OAuth provider; docs/oauth-provider.md):
 * what each may see, since when, and "Remove access" behind a confirmation. Removing revokes every
 * consent and token the app holds; its next sign-in asks for consent again.
 */
export function ConnectedApps(): ReactNode {
  const { apps, loading, error, revoke } = useConnectedApps();
  const [asking, setAsking] = useState<ConnectedApp | null>(null);
  const [removed, setRemoved] = useState<string | null>(null);
  const remove = useAction(async (app: ConnectedApp) => {
    setRemoved(null);
    await revoke(app.client_id);
    setAsking(null);
    setRemoved(app.name);
  });

  return (
    <div className="notice" aria-labelledby="connected-apps-heading">
      <h2 id="connected-apps-heading">Connected apps</h2>
      <p className="muted">Apps you let sign you in with this account, and what they can see.</p>
      {removed ? <Alert kind="success">{removed} no longer has access to your account.</Alert> : null}
      {remove.error || error ? <Alert kind="error">{describe(remove.error ?? error)}</Alert> : null}
      {apps === null ? (
        loading ? (
          <p className="muted" role="status">
            Loading apps…
          </p>
        ) : null
      ) : apps.length === 0 ? (
        <p className="muted">No apps have access to your account.</p>
      ) : (
        <ul className="sessions" aria-label="Connected apps">
          {apps.map((app) => {
            const home = webLink(app.client_uri);
            return (
              <li key={app.client_id} className="session connected-app" data-client-id={app.client_id}>
                {webLink(app.logo_uri) ? <img className="app-logo" src={webLink(app.logo_uri)!} alt="" width={32} height={32} onError={(e) => (e.currentTarget.hidden = true)} /> : null}
                <div className="session-main">
                  <span className="session-device">
                    {home ? (
                      <a href={home} target="_blank" rel="noopener noreferrer">
                        {app.name}
                      </a>
                    ) : (
                      app.name
                    )}
                  </span>
                  <ul className="app-scopes" aria-label={`What ${app.name} can do`}>
                    {app.scopes.map((scope) => (
                      <li key={scope}>{scopeWords(scope)}</li>
                    ))}
                  </ul>
                  <span className="session-meta">access granted {formatDate(app.granted_at)}</span>
                  {asking?.client_id === app.client_id ? (
                    <div className="confirm" role="alertdialog" aria-label={`Remove ${app.name}’s access`}>
                      <p>
                        Remove {app.name}’s access? It is signed out of your account and can no longer see your data; the next time you use it, it asks
                        for your permission again.
                      </p>
                      <div className="actions">
                        <button type="button" className="button-danger" disabled={remove.busy} onClick={() => void remove.run(app)}>
                          {remove.busy ? 'Removing…' : 'Remove access'}
                        </button>
                        <button type="button" className="button-quiet" autoFocus disabled={remove.busy} onClick={() => setAsking(null)}>
                          Cancel
                        </button>
                      </div>
                    </div>
                  ) : null}
                </div>
                {asking?.client_id === app.client_id ? null : (
                  <button type="button" className="button-quiet" aria-label={`Remove ${app.name}’s access…`} onClick={() => setAsking(app)}>
                    Remove access…
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
