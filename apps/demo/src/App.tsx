import { RequireAuth, useAuth } from '@latchkey/client/react';
import type { ReactNode } from 'react';
import { AdminArea } from './admin/AdminArea.tsx';
import { useAdminRoute } from './admin/route.ts';
import { LoginPage } from './pages/LoginPage.tsx';
import { PasswordPage } from './pages/PasswordPage.tsx';
import { ProfilePage } from './pages/ProfilePage.tsx';
import { RegisterPage } from './pages/RegisterPage.tsx';
import { SessionsPage } from './pages/SessionsPage.tsx';
import { useRoute, type Route } from './route.ts';

const NAV: Array<{ route: Route; label: string }> = [
  { route: 'profile', label: 'Profile' },
  { route: 'password', label: 'Password' },
  { route: 'sessions', label: 'Sessions' },
];

function Header({ route, inAdmin }: { route: Route; inAdmin: boolean }): ReactNode {
  const { status, user, logout } = useAuth();
  return (
    <header className="topbar">
      <div className="topbar-inner">
        <span className="brand">Latchkey demo</span>
        {status === 'authenticated' && user ? (
          <>
            <nav aria-label="Account">
              {NAV.map((item) => (
                <a key={item.route} href={`#/${item.route}`} aria-current={!inAdmin && route === item.route ? 'page' : undefined}>
                  {item.label}
                </a>
              ))}
              {user.roles.includes('admin') ? (
                <a href="#/admin" aria-current={inAdmin ? 'page' : undefined}>
                  Admin
                </a>
              ) : null}
            </nav>
            <div className="who">
              <span className="who-email" data-testid="signed-in-as">
                {user.email}
              </span>
              <button type="button" className="button-quiet" onClick={() => void logout().catch(() => undefined)}>
                Log out
              </button>
            </div>
          </>
        ) : null}
      </div>
    </header>
  );
}

function SignedOut({ route }: { route: Route }): ReactNode {
  return route === 'register' ? <RegisterPage /> : <LoginPage />;
}

export function App(): ReactNode {
  const route = useRoute();
  const adminRoute = useAdminRoute();
  const page = adminRoute ? (
    <AdminArea route={adminRoute} />
  ) : route === 'password' ? <PasswordPage /> : route === 'sessions' ? <SessionsPage /> : <ProfilePage />;
  return (
    <>
      <Header route={route} inAdmin={adminRoute !== null} />
      <main className={adminRoute ? 'container container-wide' : 'container'}>
        <RequireAuth
          fallback={<SignedOut route={route} />}
          loading={
            <p className="muted" role="status">
              Loading…
            </p>
          }
        >
          {page}
        </RequireAuth>
      </main>
    </>
  );
}
