import { useAuth } from '@latchkey/client/react';
import { useEffect, useState, type Dispatch, type ReactNode, type SetStateAction } from 'react';
import { formatDate } from '../format.ts';
import { EMPTY_FILTER, listUsers, PAGE_SIZE, type TriState, type UserFilter } from './admin-api.ts';
import type { ListState } from './AdminArea.tsx';
import { adminHref } from './route.ts';
import { ErrorMessage, FlashMessage, useDebounced, useFlash, type Flash } from './shared.tsx';

/** Typing pauses this long before the table asks the server. */
const DEBOUNCE_MS = 250;

interface Props {
  state: ListState;
  onState: Dispatch<SetStateAction<ListState>>;
  flash: Flash | null;
  onFlashShown: () => void;
}

function isFiltered(f: UserFilter): boolean {
  return f.search.trim() !== '' || f.role.trim() !== '' || f.disabled !== 'any' || f.verified !== 'any';
}

/** The user table: server-side search, filters and cursor paging, PAGE_SIZE rows at a time. */
export function AdminUsers({ state, onState, flash, onFlashShown }: Props): ReactNode {
  const { client, user: me } = useAuth();
  const [shownFlash] = useFlash(flash, onFlashShown);
  const [searchText, setSearchText] = useState(state.filter.search);
  const [roleText, setRoleText] = useState(state.filter.role);
  const search = useDebounced(searchText, DEBOUNCE_MS);
  const role = useDebounced(roleText, DEBOUNCE_MS);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);

  const { filter, cursors, page } = state;
  const cursor = cursors[cursors.length - 1] ?? null;
  const pageNumber = cursors.length;

  // A settled search or role text becomes the filter, back on the first page.
  useEffect(() => {
    if (search === filter.search && role === filter.role) return;
    onState((s) => ({ ...s, filter: { ...s.filter, search, role }, cursors: [null] }));
  }, [search, role]); // eslint-disable-line react-hooks/exhaustive-deps -- only when the debounced text settles

  const filterKey = JSON.stringify(filter);
  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    setError(null);
    listUsers(client, filter, cursor, abort.signal).then(
      (next) => {
        onState((s) => ({ ...s, page: next }));
        setLoading(false);
      },
      (e: unknown) => {
        if (abort.signal.aborted) return; // a newer query replaced this one
        setError(e);
        setLoading(false);
      },
    );
    return () => abort.abort();
  }, [client, filterKey, cursor, pageNumber]); // eslint-disable-line react-hooks/exhaustive-deps -- filterKey stands for filter

  const setSelect = (key: 'disabled' | 'verified', value: TriState) =>
    onState((s) => ({ ...s, filter: { ...s.filter, [key]: value }, cursors: [null] }));
  const clearFilters = () => {
    setSearchText('');
    setRoleText('');
    onState((s) => ({ ...s, filter: EMPTY_FILTER, cursors: [null] }));
  };
  const next = () => {
    const nextCursor = page?.next_cursor;
    if (nextCursor) onState((s) => ({ ...s, cursors: [...s.cursors, nextCursor] }));
  };
  const previous = () => onState((s) => ({ ...s, cursors: s.cursors.length > 1 ? s.cursors.slice(0, -1) : s.cursors }));

  const rows = page?.users ?? [];
  const firstRow = (pageNumber - 1) * PAGE_SIZE + 1;
  return (
    <section className="card admin">
      <div className="card-head">
        <h1>Users</h1>
        <a className="button-link" href={adminHref({ page: 'new' })}>
          New user
        </a>
      </div>
      <FlashMessage flash={shownFlash} />
      <form className="admin-filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div className="filter filter-search">
          <label htmlFor="admin-search">Search</label>
          <input
            id="admin-search"
            type="search"
            placeholder="Email or name"
            autoComplete="off"
            value={searchText}
            onChange={(e) => setSearchText(e.target.value)}
          />
        </div>
        <div className="filter">
          <label htmlFor="admin-status">Status</label>
          <select id="admin-status" value={filter.disabled} onChange={(e) => setSelect('disabled', e.target.value as TriState)}>
            <option value="any">All</option>
            <option value="false">Active</option>
            <option value="true">Disabled</option>
          </select>
        </div>
        <div className="filter">
          <label htmlFor="admin-verified">Email</label>
          <select id="admin-verified" value={filter.verified} onChange={(e) => setSelect('verified', e.target.value as TriState)}>
            <option value="any">All</option>
            <option value="true">Verified</option>
            <option value="false">Not verified</option>
          </select>
        </div>
        <div className="filter filter-role">
          <label htmlFor="admin-role">Role</label>
          <input id="admin-role" type="text" placeholder="e.g. admin" autoComplete="off" value={roleText} onChange={(e) => setRoleText(e.target.value)} />
        </div>
        {isFiltered(filter) || searchText || roleText ? (
          <button type="button" className="button-quiet filter-clear" onClick={clearFilters}>
            Clear
          </button>
        ) : null}
      </form>
      <ErrorMessage error={error} />
      <div className="table-wrap" aria-busy={loading}>
        <table className="users-table" aria-label="Users">
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Name</th>
              <th scope="col">Roles</th>
              <th scope="col">Verified</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody className={loading && page ? 'stale' : undefined}>
            {rows.map((u) => (
              <tr key={u.id} className={u.disabled ? 'row-disabled' : undefined} data-user-id={u.id}>
                <td className="cell-email">
                  <a href={adminHref({ page: 'user', id: u.id })}>{u.email}</a>
                  {u.id === me?.id ? <span className="badge">you</span> : null}
                </td>
                <td>{u.name ?? <span className="muted">—</span>}</td>
                <td>
                  {u.roles.length ? u.roles.map((r) => <span key={r} className="chip">{r}</span>) : <span className="muted">—</span>}
                </td>
                <td>{u.email_verified ? <span className="badge badge-ok">verified</span> : <span className="muted">no</span>}</td>
                <td>{u.disabled ? <span className="badge badge-danger">disabled</span> : 'active'}</td>
                <td className="cell-date">{formatDate(u.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {page && rows.length === 0 && !loading ? (
          <p className="empty muted">{isFiltered(filter) ? 'No users match these filters.' : 'No users yet.'}</p>
        ) : null}
        {!page && loading ? (
          <p className="empty muted" role="status">
            Loading users…
          </p>
        ) : null}
      </div>
      <nav className="pager" aria-label="Pages">
        <span className="muted" data-testid="page-info">
          {rows.length > 0 ? `Page ${pageNumber} · rows ${firstRow}–${firstRow + rows.length - 1}` : `Page ${pageNumber}`}
          {loading && page ? ' · loading…' : ''}
        </span>
        <div className="pager-buttons">
          <button type="button" className="button-quiet" onClick={previous} disabled={pageNumber === 1 || loading}>
            Previous
          </button>
          <button type="button" className="button-quiet" onClick={next} disabled={!page?.next_cursor || loading}>
            Next
          </button>
        </div>
      </nav>
    </section>
  );
}
