import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import type { WebhookDelivery, WebhookEndpoint } from '../api.ts';
import { useAdminApi } from '../console-context.tsx';
import { formatDate } from '../format.ts';
import { fieldError } from '../forms.tsx';
import { consoleHref, goTo } from '../route.ts';
import { ErrorMessage, FlashMessage, LoadingCard, SecretOnce, usePageActions } from '../shared.tsx';
import { EndpointStatus, EventTypePicker } from './WebhooksPage.tsx';

const STATUSES = ['', 'pending', 'succeeded', 'failed', 'exhausted'] as const;

function DeliveryStatus({ d }: { d: WebhookDelivery }): ReactNode {
  const kind = d.status === 'succeeded' ? 'badge-ok' : d.status === 'pending' ? 'badge-invited' : 'badge-danger';
  return <span className={`badge ${kind}`}>{d.status}</span>;
}

/**
 * One webhook endpoint: its settings (URL, description, event types, enabled), secret rotation,
 * a test event, deletion, and its deliveries with their status and a redelivery button.
 */
export function WebhookPage({ id, onDeleted }: { id: string; onDeleted: (text: string) => void }): ReactNode {
  const api = useAdminApi();
  const [endpoint, setEndpoint] = useState<WebhookEndpoint | null>(null);
  const [eventTypes, setEventTypes] = useState<string[]>([]);
  const { busy, error, setError, flash, act } = usePageActions();
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const [formError, setFormError] = useState<unknown>(null);
  const [secret, setSecret] = useState<{ value: string; note: string } | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [status, setStatus] = useState<string>('');
  const [deliveries, setDeliveries] = useState<WebhookDelivery[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [reload, setReload] = useState(0);

  const show = (e: WebhookEndpoint) => {
    setEndpoint(e);
    setUrl(e.url);
    setDescription(e.description ?? '');
    setChosen(e.event_types);
  };

  useEffect(() => {
    const abort = new AbortController();
    Promise.all([api.getWebhook(id, abort.signal), api.webhookEventTypes(abort.signal)]).then(
      ([e, types]) => {
        show(e);
        setEventTypes(types);
      },
      (e: unknown) => {
        if (!abort.signal.aborted) setError(e);
      },
    );
    return () => abort.abort();
  }, [api, id]);

  useEffect(() => {
    const abort = new AbortController();
    api.listDeliveries(id, status, null, abort.signal).then(
      (page) => {
        setDeliveries(page.deliveries);
        setNextCursor(page.next_cursor);
      },
      (e: unknown) => {
        if (!abort.signal.aborted) setError(e);
      },
    );
    return () => abort.abort();
  }, [api, id, status, reload]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    await act(
      'save',
      async () => {
        show(await api.updateWebhook(id, { url: url.trim(), description: description.trim(), event_types: chosen }));
        return 'Endpoint saved.';
      },
      setFormError,
    );
  };

  const moreDeliveries = async () => {
    if (!nextCursor) return;
    await act('more', async () => {
      const page = await api.listDeliveries(id, status, nextCursor);
      setDeliveries((d) => [...(d ?? []), ...page.deliveries]);
      setNextCursor(page.next_cursor);
      return null;
    });
  };

  const back = (
    <a className="back" href={consoleHref({ page: 'webhooks' })}>
      ← Webhooks
    </a>
  );
  if (!endpoint) return <LoadingCard back={back} error={error} />;

  return (
    <section className="card admin">
      {back}
      <div className="card-head">
        <div className="title-count">
          <h1 className="webhook-title">{endpoint.url}</h1>
          <EndpointStatus endpoint={endpoint} />
        </div>
      </div>
      <FlashMessage flash={flash} />
      <ErrorMessage error={error} />
      {secret ? <SecretOnce label="Signing secret" testId="webhook-secret" secret={secret.value} note={secret.note} onDone={() => setSecret(null)} /> : null}

      <div className="form-actions webhook-actions">
        <button
          type="button"
          className="button-quiet"
          disabled={busy !== null}
          onClick={() =>
            void act('enable', async () => {
              const next = await api.updateWebhook(id, { enabled: !endpoint.enabled });
              show(next);
              return next.enabled ? 'Endpoint enabled.' : 'Endpoint disabled.';
            })
          }
        >
          {endpoint.enabled ? 'Disable' : 'Enable'}
        </button>
        <button
          type="button"
          className="button-quiet"
          disabled={busy !== null}
          onClick={() =>
            void act('test', async () => {
              await api.sendTestWebhook(id);
              setReload((n) => n + 1);
              return 'Test event queued: its delivery is below.';
            })
          }
        >
          Send test event
        </button>
        <button
          type="button"
          className="button-quiet"
          disabled={busy !== null}
          onClick={() =>
            void act('rotate', async () => {
              const rotated = await api.rotateWebhookSecret(id, '24h');
              setSecret({ value: rotated.secret, note: `The previous secret keeps signing beside it until ${formatDate(rotated.previous_expires_at)}.` });
              return null;
            })
          }
        >
          Rotate secret
        </button>
      </div>

      <h2>Settings</h2>
      <form className="profile-form webhook-form" onSubmit={(e) => void save(e)} aria-label="Endpoint settings">
        <div className="field">
          <label htmlFor="webhook-url">URL</label>
          <input id="webhook-url" type="url" required value={url} onChange={(e) => setUrl(e.target.value)} />
          {fieldError(formError, 'url') ? <p className="field-error">{fieldError(formError, 'url')}</p> : null}
        </div>
        <div className="field">
          <label htmlFor="webhook-description">Description</label>
          <input id="webhook-description" type="text" value={description} onChange={(e) => setDescription(e.target.value)} />
        </div>
        <EventTypePicker all={eventTypes} chosen={chosen} onChange={setChosen} error={fieldError(formError, 'event_types')} />
        <ErrorMessage error={formError && !fieldError(formError, 'url') && !fieldError(formError, 'event_types') ? formError : null} />
        <div className="form-actions">
          <button type="submit" className="button-primary" disabled={busy !== null || chosen.length === 0}>
            {busy === 'save' ? 'Saving…' : 'Save'}
          </button>
        </div>
      </form>

      <div className="section-head">
        <h2>Deliveries</h2>
        <div className="filter">
          <label htmlFor="delivery-status">Status</label>
          <select id="delivery-status" value={status} onChange={(e) => setStatus(e.target.value)}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s === '' ? 'All' : s}
              </option>
            ))}
          </select>
        </div>
        <button type="button" className="button-quiet" onClick={() => setReload((n) => n + 1)}>
          Refresh
        </button>
      </div>
      <div className="table-scroll">
        <table className="admin-table deliveries-table" aria-label="Deliveries">
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last answer</th>
              <th scope="col">Latency</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(deliveries ?? []).map((d) => (
              <tr key={d.id} data-delivery-id={d.id}>
                <td data-label="Event">
                  <code>{d.event_type}</code>
                </td>
                <td data-label="Status">
                  <DeliveryStatus d={d} />
                </td>
                <td data-label="Attempts">{d.attempts}</td>
                <td data-label="Last answer" title={d.last_error ?? undefined}>
                  {d.last_status_code ?? (d.last_error ? 'error' : '—')}
                  {d.last_error ? <span className="muted"> · {d.last_error}</span> : null}
                </td>
                <td data-label="Latency">{d.latency_ms === null ? '—' : `${d.latency_ms} ms`}</td>
                <td className="cell-date" data-label="Created">
                  {formatDate(d.created_at)}
                </td>
                <td className="cell-action">
                  <button
                    type="button"
                    className="button-quiet"
                    disabled={busy !== null || d.status === 'pending'}
                    onClick={() =>
                      void act(`redeliver-${d.id}`, async () => {
                        await api.redeliver(id, d.id);
                        setReload((n) => n + 1);
                        return 'Redelivery queued.';
                      })
                    }
                  >
                    Redeliver
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {deliveries && deliveries.length === 0 ? <p className="empty muted">No deliveries{status ? ` with status ${status}` : ''} yet.</p> : null}
        {nextCursor ? (
          <button type="button" className="button-quiet" onClick={() => void moreDeliveries()} disabled={busy !== null}>
            More deliveries
          </button>
        ) : null}
      </div>

      <div className="danger-zone">
        <h2>Delete this endpoint</h2>
        {confirmDelete ? (
          <div className="confirm">
            <p>Delete {endpoint.url}? Its pending deliveries are dropped; nothing more is sent to it.</p>
            <div className="form-actions">
              <button
                type="button"
                className="button-danger-solid"
                disabled={busy !== null}
                onClick={() =>
                  void act('delete', async () => {
                    await api.deleteWebhook(id);
                    onDeleted(`Deleted the endpoint ${endpoint.url}.`);
                    goTo({ page: 'webhooks' });
                    return null;
                  })
                }
              >
                Delete endpoint
              </button>
              <button type="button" className="button-quiet" onClick={() => setConfirmDelete(false)}>
                Cancel
              </button>
            </div>
          </div>
        ) : (
          <button type="button" className="button-danger" onClick={() => setConfirmDelete(true)}>
            Delete…
          </button>
        )}
      </div>
    </section>
  );
}
