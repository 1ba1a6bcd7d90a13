import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import type { WebhookEndpoint } from '../api.ts';
import { useAdminApi } from '../console-context.tsx';
import { formatDate } from '../format.ts';
import { fieldError } from '../forms.tsx';
import { consoleHref } from '../route.ts';
import { ErrorMessage, FlashMessage, SecretOnce, useFlash, type Flash } from '../shared.tsx';

/** Checkboxes of the event types an endpoint subscribes to. */
export function EventTypePicker({ all, chosen, onChange, error }: { all: string[]; chosen: string[]; onChange: (next: string[]) => void; error?: string | undefined }): ReactNode {
  const toggle = (type: string, on: boolean) => onChange(on ? [...new Set([...chosen, type])] : chosen.filter((t) => t !== type));
  return (
    <fieldset className="event-types">
      <legend>Event types</legend>
      <div className="event-type-grid">
        {all.map((type) => (
          <label key={type} className="check">
            <input type="checkbox" checked={chosen.includes(type)} onChange={(e) => toggle(type, e.target.checked)} /> <code>{type}</code>
          </label>
        ))}
      </div>
      {error ? <p className="field-error">{error}</p> : null}
    </fieldset>
  );
}

/** Enabled, disabled (with the server's reason), failing since. */
export function EndpointStatus({ endpoint }: { endpoint: WebhookEndpoint }): ReactNode {
  if (!endpoint.enabled) {
    return (
      <span className="badge badge-danger" title={endpoint.disabled_reason ?? undefined}>
        Disabled{endpoint.disabled_reason ? `: ${endpoint.disabled_reason}` : ''}
      </span>
    );
  }
  if (endpoint.failing_since) return <span className="badge badge-invited">Failing since {formatDate(endpoint.failing_since)}</span>;
  return <span className="badge badge-ok">Enabled</span>;
}

/** The webhook endpoints: the list, and a form to add one (its secret shown once). */
export function WebhooksPage({ flash, onFlashShown }: { flash: Flash | null; onFlashShown: () => void }): ReactNode {
  const api = useAdminApi();
  const [shownFlash] = useFlash(flash, onFlashShown);
  const [endpoints, setEndpoints] = useState<WebhookEndpoint[] | null>(null);
  const [eventTypes, setEventTypes] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const [formError, setFormError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    Promise.all([api.listWebhooks(abort.signal), api.webhookEventTypes(abort.signal)]).then(
      ([list, types]) => {
        setEndpoints(list);
        setEventTypes(types);
      },
      (e: unknown) => {
        if (!abort.signal.aborted) setError(e);
      },
    );
    return () => abort.abort();
  }, [api]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setFormError(null);
    try {
      const created = await api.createWebhook({ url: url.trim(), event_types: chosen, ...(description.trim() ? { description: description.trim() } : {}) });
      setEndpoints((list) => [...(list ?? []), created.endpoint]);
      setSecret(created.secret);
      setCreating(false);
      setUrl('');
      setDescription('');
      setChosen([]);
    } catch (err) {
      setFormError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card admin">
      <div className="card-head">
        <div className="title-count">
          <h1>Webhooks</h1>
          {endpoints ? <span className="muted">{endpoints.length === 1 ? '1 endpoint' : `${endpoints.length} endpoints`}</span> : null}
        </div>
        {!creating ? (
          <button type="button" className="button-primary" onClick={() => setCreating(true)}>
            New endpoint
          </button>
        ) : null}
      </div>
      <FlashMessage flash={shownFlash} />
      <ErrorMessage error={error} />
      {secret ? <SecretOnce label="Signing secret" testId="webhook-secret" secret={secret} onDone={() => setSecret(null)} /> : null}
      {creating ? (
        <form className="profile-form webhook-form" onSubmit={(e) => void submit(e)} aria-label="New webhook endpoint">
          <div className="field">
            <label htmlFor="webhook-url">URL</label>
            <input id="webhook-url" type="url" required placeholder="https://app.example.com/hooks/latchkey" value={url} onChange={(e) => setUrl(e.target.value)} />
            {fieldError(formError, 'url') ? <p className="field-error">{fieldError(formError, 'url')}</p> : null}
          </div>
          <div className="field">
            <label htmlFor="webhook-description">Description</label>
            <input id="webhook-description" type="text" value={description} onChange={(e) => setDescription(e.target.value)} />
          </div>
          <EventTypePicker all={eventTypes} chosen={chosen} onChange={setChosen} error={fieldError(formError, 'event_types')} />
          <ErrorMessage error={formError && !fieldError(formError, 'url') && !fieldError(formError, 'event_types') ? formError : null} />
          <div className="form-actions">
            <button type="submit" className="button-primary" disabled={busy || chosen.length === 0}>
              {busy ? 'Creating…' : 'Create endpoint'}
            </button>
            <button type="button" className="button-quiet" onClick={() => setCreating(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : null}
      <div className="table-wrap">
        <table className="admin-table webhooks-table" aria-label="Webhook endpoints">
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Events</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {(endpoints ?? []).map((endpoint) => (
              <tr key={endpoint.id} data-webhook-id={endpoint.id}>
                <td data-label="URL">
                  <a href={consoleHref({ page: 'webhook', id: endpoint.id })}>{endpoint.url}</a>
                  {endpoint.description ? <div className="muted">{endpoint.description}</div> : null}
                </td>
                <td data-label="Events">{endpoint.event_types.join(', ')}</td>
                <td data-label="Status">
                  <EndpointStatus endpoint={endpoint} />
                </td>
                <td className="cell-date" data-label="Created">
                  {formatDate(endpoint.created_at)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {endpoints && endpoints.length === 0 ? <p className="empty muted">No endpoints yet: add one to tell another system what happens here.</p> : null}
        {!endpoints && !error ? (
          <p className="empty muted" role="status">
            Loading endpoints…
          </p>
        ) : null}
      </div>
    </section>
  );
}
