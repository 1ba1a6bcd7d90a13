import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import type { OAuthClient, OAuthGrant } from '../api.ts';
import { useAdminApi } from '../console-context.tsx';
import { formatDate } from '../format.ts';
import { consoleHref, goTo } from '../route.ts';
import { ConfirmAction, ErrorMessage, FlashMessage, LoadingCard, SecretOnce, TableHead, usePageActions, type Flash } from '../shared.tsx';
import { ClientFields, draftOf, inputOf, type ClientDraft } from './OAuthClientForm.tsx';
import { clientKind, type NewSecret } from './OAuthClientsPage.tsx';

/** The methods whose client holds a secret (the others: none, private_key_jwt). */
const SECRET_METHODS = new Set(['client_secret_basic', 'client_secret_post']);

/**
 * One OAuth client: its settings, secret rotation and deletion (each confirmed), and the users'
 * grants to it, each revocable. `secret` is the one the create page just received: shown once,
 * then handed back (`onSecretShown`) so that a reload or a later visit never shows it again.
 */
export function OAuthClientPage(props: { id: string; secret: NewSecret | null; flash: Flash | null; onSecretShown: () => void; onDeleted: (text: string) => void }): ReactNode {
  const { id } = props;
  const api = useAdminApi();
  const [client, setClient] = useState<OAuthClient | null>(null);
  const [draft, setDraft] = useState<ClientDraft | null>(null);
  const { busy, error, setError, flash, act } = usePageActions(props.flash);
  const [formError, setFormError] = useState<unknown>(null);
  const [secret, setSecret] = useState<string | null>(props.secret?.clientId === id ? props.secret.secret : null);
  const [grants, setGrants] = useState<OAuthGrant[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);

  useEffect(() => {
    if (props.secret || props.flash) props.onSecretShown();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps -- once, on mount

  const show = (c: OAuthClient) => {
    setClient(c);
    setDraft(draftOf(c));
  };

  useEffect(() => {
    const abort = new AbortController();
    Promise.all([api.getOAuthClient(id, abort.signal), api.listOAuthGrants(id, null, abort.signal)]).then(
      ([c, page]) => {
        show(c);
        setGrants(page.grants);
        setNextCursor(page.next_cursor);
      },
      (e: unknown) => {
        if (!abort.signal.aborted) setError(e);
      },
    );
    return () => abort.abort();
  }, [api, id]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!draft) return;
    await act(
      'save',
      async () => {
        show(await api.updateOAuthClient(id, inputOf(draft, false)));
        return 'Client saved.';
      },
      setFormError,
    );
  };

  const back = (
    <a className="back" href={consoleHref({ page: 'oauth-clients' })}>
      ← OAuth clients
    </a>
  );
  if (!client || !draft) return <LoadingCard back={back} error={error} />;

  return (
    <section className="card admin">
      {back}
      <div className="card-head">
        <div className="title-count">
          <h1>{client.name}</h1>
          <span className="muted">{clientKind(client)}</span>
        </div>
      </div>
      <p>
        Client ID: <code data-testid="oauth-client-id">{client.client_id}</code>
        {client.secret_rotated_at ? <span className="muted"> · secret made {formatDate(client.secret_rotated_at)}</span> : null}
      </p>
      <FlashMessage flash={flash} />
      <ErrorMessage error={error} />
      {secret ? (
        <SecretOnce
          label="Client secret"
          testId="oauth-client-secret"
          secret={secret}
          note="Latchkey keeps only its hash. Put it in the app’s server configuration, never in a browser or mobile app."
          onDone={() => setSecret(null)}
        />
      ) : null}

      <h2>Settings</h2>
      <form className="profile-form" onSubmit={(e) => void save(e)} aria-label="Client settings" noValidate>
        <ClientFields draft={draft} onDraft={setDraft} error={formError} creating={false} />
        <div className="form-actions">
          <button type="submit" className="button-primary" disabled={busy !== null}>
            {busy === 'save' ? 'Saving…' : 'Save'}
          </button>
        </div>
      </form>

      <div className="section-head">
        <h2>Grants</h2>
        <span className="muted">Users who let this app sign them in; revoking one ends the app’s tokens for that user and asks for consent again.</span>
      </div>
      <div className="table-scroll">
        <table className="admin-table" aria-label="Grants">
          <TableHead columns={['User', 'Scopes', 'Granted', 'Expires']} actions />
          <tbody>
            {(grants ?? []).map((g) => (
              <tr key={g.id} data-grant-id={g.id}>
                <td data-label="User">
                  <a href={consoleHref({ page: 'user', id: g.user.id })}>{g.user.email ?? g.user.id}</a>
                </td>
                <td data-label="Scopes">{g.scopes.join(' ')}</td>
                <td className="cell-date" data-label="Granted">
                  {formatDate(g.created_at)}
                </td>
                <td className="cell-date" data-label="Expires">
                  {g.expires_at ? formatDate(g.expires_at) : '—'}
                </td>
                <td className="cell-action">
                  <button
                    type="button"
                    className="button-quiet"
                    disabled={busy !== null}
                    onClick={() =>
                      void act(`revoke-${g.id}`, async () => {
                        await api.revokeOAuthGrant(id, g.id);
                        setGrants((list) => list?.filter((x) => x.id !== g.id) ?? null);
                        return `Revoked ${g.user.email ?? g.user.id}’s grant.`;
                      })
                    }
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {grants && grants.length === 0 ? <p className="empty muted">No user has granted this app access.</p> : null}
        {nextCursor ? (
          <button
            type="button"
            className="button-quiet"
            disabled={busy !== null}
            onClick={() =>
              void act('more', async () => {
                const page = await api.listOAuthGrants(id, nextCursor);
                setGrants((list) => [...(list ?? []), ...page.grants]);
                setNextCursor(page.next_cursor);
                return null;
              })
            }
          >
            More grants
          </button>
        ) : null}
      </div>

      {SECRET_METHODS.has(client.token_endpoint_auth_method) ? (
        <ConfirmAction
          title="Rotate the secret"
          description="A new client secret, shown once; the current one stops working."
          label="Rotate secret…"
          className="button-quiet"
          question="Make a new secret? The current one stops working at once: the app fails to get tokens until it has the new one."
          confirm="Rotate secret"
          busy={busy !== null}
          onConfirm={() =>
            void act('rotate', async () => {
              const rotated = await api.rotateOAuthClientSecret(id);
              show(rotated.client);
              setSecret(rotated.client_secret);
              return null;
            })
          }
        />
      ) : null}
      <ConfirmAction
        title="Delete this client"
        description="Every grant and token of it goes too. This cannot be undone."
        label="Delete…"
        question={`Delete ${client.name}? Every grant and token of it goes too; the app can no longer sign anyone in.`}
        confirm="Delete client"
        busy={busy !== null}
        onConfirm={() =>
          void act('delete', async () => {
            await api.deleteOAuthClient(id);
            props.onDeleted(`Deleted the client ${client.name}.`);
            goTo({ page: 'oauth-clients' });
            return null;
          })
        }
      />
    </section>
  );
}
