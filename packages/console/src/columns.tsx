import type { User } from '@latchkey/client';
import type { ReactNode } from 'react';
import type { AdminUser } from './api.ts';
import { formatDate } from './format.ts';
import { consoleHref } from './route.ts';

/**
 * One column of the user table. On a wide screen it is a column; on a phone every row becomes a
 * card and each cell shows its `header` as a label (CSS reads it from `data-label`). A new
 * column is one more entry in USER_COLUMNS.
 */
export interface UserColumn {
  key: string;
  header: string;
  /** The cell's class: `cell-email` is the card's title on a phone, `cell-date` keeps dates on one line. */
  className?: string;
  cell: (user: AdminUser, me: User) => ReactNode;
}

const none = <span className="muted">—</span>;

export const USER_COLUMNS: readonly UserColumn[] = [
  {
    key: 'email',
    header: 'Email',
    className: 'cell-email',
    cell: (u, me) => (
      <>
        <a href={consoleHref({ page: 'user', id: u.id })}>{u.email}</a>
        {u.id === me.id ? <span className="badge">you</span> : null}
      </>
    ),
  },
  { key: 'name', header: 'Name', cell: (u) => u.name ?? none },
  {
    key: 'roles',
    header: 'Roles',
    cell: (u) => (u.roles.length ? u.roles.map((r) => <span key={r} className="chip">{r}</span>) : none),
  },
  {
    key: 'verified',
    header: 'Verified',
    cell: (u) => (u.email_verified ? <span className="badge badge-ok">verified</span> : <span className="muted">no</span>),
  },
  {
    key: 'status',
    header: 'Status',
    cell: (u) => (
      <>
        {u.disabled ? <span className="badge badge-danger">disabled</span> : 'active'}
        {u.invite_pending ? <span className="badge badge-invited">invited</span> : null}
      </>
    ),
  },
  { key: 'created', header: 'Created', className: 'cell-date', cell: (u) => formatDate(u.created_at) },
  {
    key: 'last-sign-in',
    header: 'Last sign-in',
    className: 'cell-date',
    cell: (u) => (u.last_sign_in_at ? formatDate(u.last_sign_in_at) : <span className="muted">never</span>),
  },
];
