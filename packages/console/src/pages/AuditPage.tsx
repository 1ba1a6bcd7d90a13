import { useEffect, useState, type ReactNode } from 'react';
import { EMPTY_AUDIT_FILTER, type AuditEntry, type AuditFilter, type AuditPage as AuditPageData } from '../api.ts';
import { useAdminApi } from '../console-context.tsx';
import { describeDevice, formatDate } from '../format.ts';
import { consoleHref } from '../route.ts';
import { ErrorMessage, useDebounced } from '../shared.tsx';

/** Typing pauses this long before the log asks the server. */
const DEBOUNCE_MS = 300;

/** Actions offered in the filter's suggestions; any other action (or prefix with `*`) can be typed. */
const ACTION_SUGGESTIONS = [
  'admin.*',
  'admin.user.created',
  'admin.user.updated',
  'admin.user.deleted',
  'admin.user.invited',
  'admin.sessions.revoked',
  'admin.factors.reset',
  'admin.identity.unlinked',
  'admin.webhook.*',
  'user.*',
  'user.password.changed',
  'user.factor.added',
  'user.factor.removed',
  'session.reuse_detected',
];

function isFiltered(f: AuditFilter): boolean {
  return Object.values(f).some((v) => v.trim() !== '');
}

/** A value of the changes column, short: arrays as "a, b", null as "—". */
function show(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.map(String).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The changes of an entry, one line per field: `roles: editor → editor, billing`. */
function Changes({ changes }: { changes: AuditEntry['changes'] }): ReactNode {
  if (!changes || Object.keys(changes).length === 0) return <span className="muted">—</span>;
  return (
    <ul className="plain-list audit-changes">
      {Object.entries(changes).map(([field, value]) => {
        const diff = value !== null && typeof value === 'object' && !Array.isArray(value) && 'from' in value && 'to' in value ? (value as { from: unknown; to: unknown }) : null;
        return (
          <li key={field}>
            <span className="audit-field">{field}</span>: {diff ? `${show(diff.from)} → ${show(diff.to)}` : show(value)}
          </li>
        );
      })}
    </ul>
  );
}

function Actor({ actor }: { actor: AuditEntry['actor'] }): ReactNode {
  const who = actor.email ?? actor.id ?? (actor.type === 'system' ? 'Latchkey' : '—');
  return (
    <>
      <span className={`badge audit-actor-${actor.type}`}>{actor.type}</span> {who}
    </>
  );
}

function Target({ target }: { target: AuditEntry['target'] }): ReactNode {
  if (!target.id) return <span className="muted">—</span>;
  if (target.type === 'user') return <a href={consoleHref({ page: 'user', id: target.id })}>user {target.id.slice(0, 8)}</a>;
  if (target.type === 'webhook') return <a href={consoleHref({ page: 'webhook', id: target.id })}>webhook {target.id.slice(0, 8)}</a>;
  return (
    <span title={target.id}>
      {target.type} {target.id.slice(0, 8)}
    </span>
  );
}

/**
 * The audit log: newest first, filtered by actor, action, target and dates on the server, paged by
 * cursor, and exported (the same filters) as a JSON-lines file.
 */
export function AuditPage(): ReactNode {
  const api = useAdminApi();
  const [form, setForm] = useState<AuditFilter>(EMPTY_AUDIT_FILTER);
  const filter = useDebounced(form, DEBOUNCE_MS);
  const filterKey = JSON.stringify(filter);
  // The cursors of the pages visited under one filter; a new filter starts again at the first page.
  const [paging, setPaging] = useState<{ key: string; cursors: Array<string | null> }>({ key: filterKey, cursors: [null] });
  const cursors = paging.key === filterKey ? paging.cursors : [null];
  const setCursors = (next: (c: Array<string | null>) => Array<string | null>) => setPaging({ key: filterKey, cursors: next(cursors) });
  const [page, setPage] = useState<AuditPageData | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [exporting, setExporting] = useState(false);

  const cursor = cursors[cursors.length - 1] ?? null;

  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    setError(null);
    api.listAudit(filter, cursor, abort.signal).then(
      (next) => {
        setPage(next);
        setLoading(false);
      },
      (e: unknown) => {
        if (abort.signal.aborted) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => abort.abort();
  }, [api, filterKey, cursor, cursors.length]); // eslint-disable-line react-hooks/exhaustive-deps -- filterKey stands for filter

  const set = (key: keyof AuditFilter) => (value: string) => setForm((f) => ({ ...f, [key]: value }));

  const exportFile = async () => {
    setExporting(true);
    setError(null);
    try {
      const { blob, filename } = await api.exportAudit(filter);
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = filename;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(e);
    } finally {
      setExporting(false);
    }
  };

  const rows = page?.entries ?? [];
  const pageNumber = cursors.length;
  return (
    <section className="card admin">
      <div className="card-head">
        <div className="title-count">
          <h1>Audit log</h1>
          <span className="muted">Newest first</span>
        </div>
        <button type="button" className="button-quiet" onClick={() => void exportFile()} disabled={exporting}>
          {exporting ? 'Exporting…' : 'Export (JSON lines)'}
        </button>
      </div>
      <form className="admin-filters" role="search" aria-label="Audit filters" onSubmit={(e) => e.preventDefault()}>
        <div className="filter filter-search">
          <label htmlFor="audit-actor">Actor</label>
          <input id="audit-actor" type="search" placeholder="Email or id" autoComplete="off" value={form.actor} onChange={(e) => set('actor')(e.target.value)} />
        </div>
        <div className="filter">
          <label htmlFor="audit-action">Action</label>
          <input
            id="audit-action"
            type="search"
            placeholder="e.g. admin.*"
            autoComplete="off"
            list="audit-actions"
            value={form.action}
            onChange={(e) => set('action')(e.target.value)}
          />
          <datalist id="audit-actions">
            {ACTION_SUGGESTIONS.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </div>
        <div className="filter">
          <label htmlFor="audit-target">Target</label>
          <input id="audit-target" type="search" placeholder="Id" autoComplete="off" value={form.target} onChange={(e) => set('target')(e.target.value)} />
        </div>
        <div className="filter">
          <label htmlFor="audit-since">From</label>
          <input id="audit-since" type="date" value={form.since} onChange={(e) => set('since')(e.target.value)} />
        </div>
        <div className="filter">
          <label htmlFor="audit-until">Until</label>
          <input id="audit-until" type="date" value={form.until} onChange={(e) => set('until')(e.target.value)} />
        </div>
        {isFiltered(form) ? (
          <button type="button" className="button-quiet filter-clear" onClick={() => setForm(EMPTY_AUDIT_FILTER)}>
            Clear
          </button>
        ) : null}
      </form>
      <ErrorMessage error={error} />
      <div className="table-wrap" aria-busy={loading}>
        <table className="admin-table audit-table" aria-label="Audit log">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Changes</th>
              <th scope="col">From</th>
            </tr>
          </thead>
          <tbody className={loading && page ? 'stale' : undefined}>
            {rows.map((e) => (
              <tr key={e.id} data-entry-id={e.id}>
                <td className="cell-date" data-label="When">
                  <time dateTime={e.at}>{formatDate(e.at)}</time>
                </td>
                <td data-label="Actor">
                  <Actor actor={e.actor} />
                </td>
                <td data-label="Action">
                  <code>{e.action}</code>
                </td>
                <td data-label="Target">
                  <Target target={e.target} />
                </td>
                <td data-label="Changes">
                  <Changes changes={e.changes} />
                </td>
                <td data-label="From" title={[e.user_agent, e.request_id ? `request ${e.request_id}` : null].filter(Boolean).join(' · ')}>
                  {e.ip ?? '—'}
                  {e.user_agent ? <span className="muted"> · {describeDevice(e.user_agent)}</span> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {page && rows.length === 0 && !loading ? (
          <p className="empty muted">{isFiltered(filter) ? 'No entries match these filters.' : 'Nothing recorded yet.'}</p>
        ) : null}
        {!page && loading ? (
          <p className="empty muted" role="status">
            Loading the audit log…
          </p>
        ) : null}
      </div>
      <nav className="pager" aria-label="Pages">
        <span className="muted" data-testid="audit-page-info">
          Page {pageNumber}
          {loading && page ? ' · loading…' : ''}
        </span>
        <div className="pager-buttons">
          <button type="button" className="button-quiet" onClick={() => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c))} disabled={pageNumber === 1 || loading}>
            Previous
          </button>
          <button
            type="button"
            className="button-quiet"
            onClick={() => {
              const next = page?.next_cursor;
              if (next) setCursors((c) => [...c, next]);
            }}
            disabled={!page?.next_cursor || loading}
          >
            Next
          </button>
        </div>
      </nav>
    </section>
  );
}
