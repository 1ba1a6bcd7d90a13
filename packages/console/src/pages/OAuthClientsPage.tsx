import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import type { OAuthClient } from '../api.ts';
import { useAdminApi } from '../console-context.tsx';
import { formatDate } from '../format.ts';
import { consoleHref, goTo } from '../route.ts';
import { ErrorMessage, FlashMessage, Pager, TableHead, useFlash, type Flash } from '../shared.tsx';
import { ClientFields, EMPTY_DRAFT, inputOf, type ClientDraft } from './OAuthClientForm.tsx';

/** A client's secret handed from the create page to the client's page, which shows it once. */
export interface NewSecret {
  clientId: string;
  secret: string;
}

/** "Confidential · client_secret_basic", "Public · PKCE". */
export function clientKind(client: OAuthClient): string {
  return client.type === 'public' ? 'Public · PKCE' : `Confidential · ${client.token_endpoint_auth_method}`;
}

/** The OAuth clients (apps that sign their users in through Latchkey), a page at a time. */
export function OAuthClientsPage({ flash, onFlashShown }: { flash: Flash | null; onFlashShown: () => void }): ReactNode {
  const api = useAdminApi();
  const [shownFlash] = useFlash(flash, onFlashShown);
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const [page, setPage] = useState<{ clients: OAuthClient[]; next_cursor: string | null } | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const cursor = cursors[cursors.length - 1] ?? null;

  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    api.listOAuthClients(cursor, abort.signal).then(
      (next) => {
        setPage(next);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (abort.signal.aborted) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => abort.abort();
  }, [api, cursor, cursors.length]);

  const clients = page?.clients ?? [];
  return (
    <section className="card admin">
      <div className="card-head">
        <div className="title-count">
          <h1>OAuth clients</h1>
        </div>
        <a className="button-link" href={consoleHref({ page: 'oauth-client-new' })}>
          New client
        </a>
      </div>
      <p className="muted">Apps that sign their users in through Latchkey (OAuth 2.1 / OpenID Connect), and services that get tokens for themselves.</p>
      <FlashMessage flash={shownFlash} />
      <ErrorMessage error={error} />
      <div className="table-wrap">
        <table className="admin-table" aria-label="OAuth clients">
          <TableHead columns={['Name', 'Client ID', 'Type', 'Redirect URIs', 'Created']} />
          <tbody>
            {clients.map((client) => (
              <tr key={client.client_id} data-client-id={client.client_id}>
                <td data-label="Name">
                  <a href={consoleHref({ page: 'oauth-client', id: client.client_id })}>{client.name}</a>
                  {client.first_party ? <span className="badge">first-party</span> : null}
                  {client.dynamic ? <span className="badge badge-invited">self-registered</span> : null}
                </td>
                <td data-label="Client ID">
                  <code>{client.client_id}</code>
                </td>
                <td data-label="Type">{clientKind(client)}</td>
                <td data-label="Redirect URIs">{client.redirect_uris.join(', ')}</td>
                <td className="cell-date" data-label="Created">
                  {formatDate(client.created_at)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {page && clients.length === 0 && cursors.length === 1 ? <p className="empty muted">No OAuth clients yet: register one to let another app sign its users in here.</p> : null}
        {!page && !error ? (
          <p className="empty muted" role="status">
            Loading clients…
          </p>
        ) : null}
      </div>
      <Pager cursors={cursors} nextCursor={page?.next_cursor} loading={loading} onCursors={setCursors} testId="oauth-clients-page-info" />
    </section>
  );
}

/** Registers a client; the secret (for the secret methods) is shown once on the client's page. */
export function CreateOAuthClientPage({ onCreated }: { onCreated: (created: { flash: string; secret: NewSecret | null }) => void }): ReactNode {
  const api = useAdminApi();
  const [draft, setDraft] = useState<ClientDraft>(EMPTY_DRAFT);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await api.createOAuthClient(inputOf(draft, true));
      const { client } = created;
      onCreated({
        flash: `Registered ${client.name}.`,
        secret: created.client_secret ? { clientId: client.client_id, secret: created.client_secret } : null,
      });
      goTo({ page: 'oauth-client', id: client.client_id });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <section className="card admin admin-narrow">
      <p className="back">
        <a href={consoleHref({ page: 'oauth-clients' })}>← OAuth clients</a>
      </p>
      <h1>New OAuth client</h1>
      <form className="profile-form" onSubmit={(e) => void submit(e)} aria-label="New OAuth client" noValidate>
        <ClientFields draft={draft} onDraft={setDraft} error={error} creating />
        <div className="form-actions">
          <button type="submit" className="button-primary" disabled={busy}>
            {busy ? 'Registering…' : 'Register client'}
          </button>
          <a className="button-link button-link-quiet" href={consoleHref({ page: 'oauth-clients' })}>
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}
