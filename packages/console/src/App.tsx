import { LatchkeyError, type User } from '@latchkey/client';
import { useAuth } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { ConsoleArea } from './ConsoleArea.tsx';
import { NotAdminPage } from './pages/NotAdminPage.tsx';
import { SignInPage } from './pages/SignInPage.tsx';
import { consoleHref, useConsoleRoute } from './route.ts';

/** The role the console is for; the server checks it on every /admin call too. */
const ADMIN_ROLE = 'admin';

export const isAdmin = (user: User | null): boolean => user !== null && user.roles.includes(ADMIN_ROLE);

function TopBar({ admin }: { admin: User | null }): ReactNode {
  const { logout } = useAuth();
  return (
    <header className="topbar">
      <div className="topbar-inner">
        <a className="brand" href={consoleHref({ page: 'users' })}>
          Latchkey console
        </a>
        {admin ? (
          <div className="who">
            <span className="who-email" data-testid="signed-in-as" title={admin.email}>
              {admin.email}
            </span>
            <button type="button" className="button-quiet" onClick={() => void logout().catch(() => undefined)}>
              Sign out
            </button>
          </div>
        ) : null}
      </div>
    </header>
  );
}

/**
 * The gate: the sign-in form until an admin is signed in. An account without the admin role that
 * signs in here is signed out again at once, and the form says why.
 */
export function App(): ReactNode {
  const { status, user, client } = useAuth();
  const route = useConsoleRoute();
  const [signingIn, setSigningIn] = useState(false);
  const [refused, setRefused] = useState<string | null>(null);

  const signIn = async (credentials: { email: string; password: string }) => {
    // While this runs the form stays up, so that a non-admin's brief sign-in never shows a page.
    setSigningIn(true);
    setRefused(null);
    try {
      const result = await client.login(credentials);
      if (result.status === 'mfa_required') {
        // No session was started. The console has no code step yet (issue 20 adds it).
        throw new LatchkeyError(
          'MFA_REQUIRED',
          'This account signs in with a second factor, which the console cannot ask for yet. Sign in to your app instead.',
          400,
        );
      }
      const signedIn = result.user;
      if (!isAdmin(signedIn)) {
        setRefused(signedIn.email);
        await client.logout().catch(() => undefined);
      }
    } finally {
      setSigningIn(false);
    }
  };

  const admin = status === 'authenticated' && user && isAdmin(user) ? user : null;
  let page: ReactNode;
  if (status === 'loading') {
    page = (
      <p className="muted" role="status">
        Loading…
      </p>
    );
  } else if (status === 'anonymous' || signingIn || (refused !== null && !admin)) {
    page = <SignInPage signIn={signIn} refused={refused} />;
  } else if (!admin) {
    page = <NotAdminPage user={user!} />;
  } else {
    page = <ConsoleArea route={route} me={admin} />;
  }

  return (
    <>
      <TopBar admin={signingIn ? null : admin} />
      <main className={admin && !signingIn ? 'container container-wide' : 'container'}>{page}</main>
    </>
  );
}
