import type { User } from '@latchkey/client';
import { useEffect, useState, type Dispatch, type ReactNode, type SetStateAction } from 'react';
import { EMPTY_FILTER, PAGE_SIZE, type TriState, type UserFilter, type UserSort } from '../api.ts';
import { USER_COLUMNS } from '../columns.tsx';
import type { ListState } from '../ConsoleArea.tsx';
import { useAdminApi } from '../console-context.tsx';
import { consoleHref } from '../route.ts';
import { ErrorMessage, FlashMessage, useDebounced, useFlash, type Flash } from '../shared.tsx';

/** Typing pauses this long before the table asks the server. */
const DEBOUNCE_MS = 250;

interface Props {
  /** The signed-in admin: their own row is marked "you". */
  me: User;
  state: ListState;
  onState: Dispatch<SetStateAction<ListState>>;
  flash: Flash | null;
  onFlashShown: () => void;
}

/** The table's orders, as the Sort menu offers them (value: `sort:order`). */
const SORTS: ReadonlyArray<{ value: string; label: string }> = [
  { value: 'created_at:asc', label: 'Created, oldest first' },
  { value: 'created_at:desc', label: 'Created, newest first' },
  { value: 'last_sign_in_at:desc', label: 'Last sign-in, most recent first' },
  { value: 'last_sign_in_at:asc', label: 'Last sign-in, longest ago first' },
];

const count = new Intl.NumberFormat();

/** "1 user", "10,001 users". */
function usersText(n: number): string {
  return `${count.format(n)} ${n === 1 ? 'user' : 'users'}`;
}

function isFiltered(f: UserFilter): boolean {
  return f.search.trim() !== '' || f.role.trim() !== '' || f.disabled !== 'any' || f.verified !== 'any';
}

/** The user table: server-side search, filters, sorting and cursor paging, PAGE_SIZE rows at a time, with the total. */
export function UsersPage({ me, state, onState, flash, onFlashShown }: Props): ReactNode {
  const api = useAdminApi();
  const [shownFlash] = useFlash(flash, onFlashShown);
  const [searchText, setSearchText] = useState(state.filter.search);
  const [roleText, setRoleText] = useState(state.filter.role);
  const search = useDebounced(searchText, DEBOUNCE_MS);
  const role = useDebounced(roleText, DEBOUNCE_MS);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);

  const { filter, sort, cursors, page } = state;
  const cursor = cursors[cursors.length - 1] ?? null;
  const pageNumber = cursors.length;

  // A settled search or role text becomes the filter, back on the first page.
  useEffect(() => {
    if (search === filter.search && role === filter.role) return;
    onState((s) => ({ ...s, filter: { ...s.filter, search, role }, cursors: [null] }));
  }, [search, role]); // eslint-disable-line react-hooks/exhaustive-deps -- only when the debounced text settles

  const filterKey = JSON.stringify([filter, sort]);
  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    setError(null);
    api.listUsers(filter, sort, cursor, abort.signal).then(
      (next) => {
        // A later page comes without a count: the first page's total still holds.
        onState((s) => ({ ...s, page: { ...next, total: next.total ?? s.page?.total ?? null } }));
        setLoading(false);
      },
      (e: unknown) => {
        if (abort.signal.aborted) return; // a newer query replaced this one
        setError(e);
        setLoading(false);
      },
    );
    return () => abort.abort();
  }, [api, filterKey, cursor, pageNumber]); // eslint-disable-line react-hooks/exhaustive-deps -- filterKey stands for filter and sort

  const setSelect = (key: 'disabled' | 'verified', value: TriState) =>
    onState((s) => ({ ...s, filter: { ...s.filter, [key]: value }, cursors: [null] }));
  // A cursor belongs to its sort (the server refuses it under another): a new order starts at page 1.
  const setSort = (value: string) => {
    const [key, order] = value.split(':') as [UserSort['sort'], UserSort['order']];
    onState((s) => ({ ...s, sort: { sort: key, order }, cursors: [null] }));
  };
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
  const total = page?.total ?? undefined;
  return (
    <section className="card admin">
      <div className="card-head">
        <div className="title-count">
          <h1>Users</h1>
          {total !== undefined ? (
            <span className="muted" data-testid="user-count">
              {isFiltered(filter) ? `${usersText(total)} match` : usersText(total)}
            </span>
          ) : null}
        </div>
        <a className="button-link" href={consoleHref({ page: 'new' })}>
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
        <div className="filter filter-sort">
          <label htmlFor="admin-sort">Sort</label>
          <select id="admin-sort" value={`${sort.sort}:${sort.order}`} onChange={(e) => setSort(e.target.value)}>
            {SORTS.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
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
              {USER_COLUMNS.map((c) => (
                <th key={c.key} scope="col">
                  {c.header}
                </th>
              ))}
            </tr>
          </thead>
          <tbody className={loading && page ? 'stale' : undefined}>
            {rows.map((u) => (
              <tr key={u.id} className={u.disabled ? 'row-disabled' : undefined} data-user-id={u.id}>
                {USER_COLUMNS.map((c) => (
                  <td key={c.key} className={c.className} data-label={c.header}>
                    <span className="cell-value">{c.cell(u, me)}</span>
                  </td>
                ))}
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
          {rows.length > 0
            ? `Page ${pageNumber} · rows ${firstRow}–${firstRow + rows.length - 1}${total !== undefined ? ` of ${count.format(total)}` : ''}`
            : `Page ${pageNumber}`}
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
