import { RequireAuth, useAuth } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { AdminArea } from './admin/AdminArea.tsx';
import { useAdminRoute } from './admin/route.ts';
import type { MailLink } from './mail-link.ts';
import { ForgotPasswordPage } from './pages/ForgotPasswordPage.tsx';
import { LoginPage } from './pages/LoginPage.tsx';
import { PasswordPage } from './pages/PasswordPage.tsx';
import { ProfilePage } from './pages/ProfilePage.tsx';
import { RegisterPage } from './pages/RegisterPage.tsx';
import { ResetPasswordPage } from './pages/ResetPasswordPage.tsx';
import { SessionsPage } from './pages/SessionsPage.tsx';
import { VerifyEmailPage } from './pages/VerifyEmailPage.tsx';
import { isPublicRoute, useRoute, type PublicRoute, type Route } from './route.ts';

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

/** The pages for everyone, signed in or not: the mailed links' pages and "forgot password". */
function PublicPage({ route, link, onSpent }: { route: PublicRoute; link: MailLink | null; onSpent: () => void }): ReactNode {
  const token = link?.kind === route ? link.token : null;
  if (route === 'verify-email') return <VerifyEmailPage token={token} onSpent={onSpent} />;
  if (route === 'reset-password') return <ResetPasswordPage token={token} onSpent={onSpent} />;
  return <ForgotPasswordPage />;
}

export function App({ link: initialLink = null }: { link?: MailLink | null }): ReactNode {
  const route = useRoute();
  const adminRoute = useAdminRoute();
  // A mailed link's token, in memory only, until its page has posted it.
  const [link, setLink] = useState(initialLink);
  if (!adminRoute && isPublicRoute(route)) {
    return (
      <>
        <Header route={route} inAdmin={false} />
        <main className="container">
          <PublicPage route={route} link={link} onSpent={() => setLink(null)} />
        </main>
      </>
    );
  }
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
