import { useAuth } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { EMPTY_FILTER, type UserFilter, type UserPage } from './admin-api.ts';
import { AdminCreateUser } from './AdminCreateUser.tsx';
import { AdminUserDetail } from './AdminUserDetail.tsx';
import { AdminUsers } from './AdminUsers.tsx';
import type { AdminRoute } from './route.ts';
import type { Flash } from './shared.tsx';
import './admin.css';

/** Where the user table stands; kept here so that a visit to a user and back returns to it. */
export interface ListState {
  filter: UserFilter;
  /** The cursor of each page visited so far; the last one is the current page (null = first page). */
  cursors: Array<string | null>;
  /** The rows last shown, displayed at once on return while they are fetched again. */
  page: UserPage | null;
}

/** The admin pages: only for a signed-in user whose roles include `admin` (the server checks too). */
export function AdminArea({ route }: { route: AdminRoute }): ReactNode {
  const { user } = useAuth();
  const [list, setList] = useState<ListState>({ filter: EMPTY_FILTER, cursors: [null], page: null });
  const [flash, setFlash] = useState<Flash | null>(null);

  if (!user) return null;
  if (!user.roles.includes('admin')) {
    return (
      <section className="card">
        <h1>Admin</h1>
        <p role="alert">These pages need the admin role, and your account does not have it.</p>
        <p className="muted">
          An operator creates the first admin with <code>latchkey users create-admin --email …</code>; admins grant the role to others.
        </p>
      </section>
    );
  }

  // Each page copies the flash into its own state when it mounts and then clears it here.
  const clearFlash = () => setFlash(null);

  if (route.page === 'new') return <AdminCreateUser onCreated={(text) => setFlash({ kind: 'success', text })} />;
  if (route.page === 'user') {
    return (
      <AdminUserDetail
        key={route.id}
        id={route.id}
        selfId={user.id}
        flash={flash}
        onFlashShown={clearFlash}
        onDeleted={(text) => setFlash({ kind: 'success', text })}
      />
    );
  }
  return <AdminUsers state={list} onState={setList} flash={flash} onFlashShown={clearFlash} />;
}
