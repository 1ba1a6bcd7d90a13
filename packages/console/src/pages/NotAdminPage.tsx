import { useAuth } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import type { User } from '@latchkey/client';

/**
 * A session the console found on load (the refresh cookie is shared with whatever else runs on
 * this origin) whose account is not an admin. It was not made here, so it is not ended without
 * asking: the page says why nothing is shown and offers to sign out.
 */
export function NotAdminPage({ user }: { user: User }): ReactNode {
  const { logout } = useAuth();
  const [busy, setBusy] = useState(false);
  return (
    <section className="card narrow">
      <h1>Not an admin account</h1>
      <p role="alert" className="alert alert-error">
        You are signed in as <strong>{user.email}</strong>, which is not an admin account. The console is only for accounts with the admin
        role.
      </p>
      <p className="muted">
        An operator makes the first admin with <code>latchkey users create-admin --email …</code>; admins grant the role to others here.
      </p>
      <button
        type="button"
        className="button-primary"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          void logout().catch(() => undefined);
        }}
      >
        Sign out and use another account
      </button>
    </section>
  );
}
