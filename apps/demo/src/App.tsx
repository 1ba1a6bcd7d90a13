import { RequireAuth, useAuth } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import type { MailLink } from './mail-link.ts';
import { AcceptInvitePage } from './pages/AcceptInvitePage.tsx';
import { EmailSignInPage } from './pages/EmailSignInPage.tsx';
import { ForgotPasswordPage } from './pages/ForgotPasswordPage.tsx';
import { LoginPage } from './pages/LoginPage.tsx';
import { PasswordPage } from './pages/PasswordPage.tsx';
import { ProfilePage } from './pages/ProfilePage.tsx';
import { RegisterPage } from './pages/RegisterPage.tsx';
import { ResetPasswordPage } from './pages/ResetPasswordPage.tsx';
import { SecurityPage } from './pages/SecurityPage.tsx';
import { SessionsPage } from './pages/SessionsPage.tsx';
import { VerifyEmailPage } from './pages/VerifyEmailPage.tsx';
import { Alert, ErrorAlert } from './forms.tsx';
import { isPublicRoute, useRoute, type PublicRoute, type Route } from './route.ts';
import { SocialRedirect, type Notice, type SignInStep } from './social.tsx';

const NAV: Array<{ route: Route; label: string }> = [
  { route: 'profile', label: 'Profile' },
  { route: 'password', label: 'Password' },
  { route: 'sessions', label: 'Sessions' },
  { route: 'security', label: 'Security' },
];

/**
 * Latchkey's admin console, served by the Latchkey server itself (not by this app); set at build
 * time from LATCHKEY_CONSOLE_URL (vite.config.ts).
 */
declare const __LATCHKEY_CONSOLE_URL__: string;

function Header({ route }: { route: Route }): ReactNode {
  const { status, user, logout } = useAuth();
  return (
    <header className="topbar">
      <div className="topbar-inner">
        <span className="brand">Latchkey demo</span>
        {status === 'authenticated' && user ? (
          <>
            <nav aria-label="Account">
              {NAV.map((item) => (
                <a key={item.route} href={`#/${item.route}`} aria-current={route === item.route ? 'page' : undefined}>
                  {item.label}
                </a>
              ))}
              {user.roles.includes('admin') ? (
                // Its own sign-in: the console keeps its session on the server's host, not this app's.
                <a href={__LATCHKEY_CONSOLE_URL__} target="_blank" rel="noopener noreferrer">
                  Admin console
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

function SignedOut({ route, challenge, onChallengeTaken }: { route: Route; challenge: SignInStep | null; onChallengeTaken: () => void }): ReactNode {
  return route === 'register' ? <RegisterPage /> : <LoginPage challenge={challenge} onChallengeTaken={onChallengeTaken} />;
}

/** The outcome of a social sign-in or link, on the page it concerns. */
function NoticeAlert({ notice }: { notice: Notice }): ReactNode {
  return notice.kind === 'error' ? <ErrorAlert error={notice.error} /> : <Alert kind={notice.kind}>{notice.text}</Alert>;
}

/** The pages for everyone, signed in or not: the mailed links' pages (an invitation's, an email sign-in's too) and "forgot password". */
function PublicPage({
  route,
  link,
  onSpent,
  onChallenge,
}: {
  route: PublicRoute;
  link: MailLink | null;
  onSpent: () => void;
  onChallenge: (challenge: SignInStep) => void;
}): ReactNode {
  const token = link?.kind === route ? link.token : null;
  if (route === 'email-sign-in') return <EmailSignInPage token={token} onSpent={onSpent} onChallenge={onChallenge} />;
  if (route === 'verify-email') return <VerifyEmailPage token={token} onSpent={onSpent} />;
  if (route === 'reset-password') return <ResetPasswordPage token={token} onSpent={onSpent} />;
  if (route === 'accept-invite') return <AcceptInvitePage token={token} onSpent={onSpent} />;
  return <ForgotPasswordPage />;
}

export function App({ link: initialLink = null, redirect: initialRedirect = null }: { link?: MailLink | null; redirect?: string | null }): ReactNode {
  const route = useRoute();
  // A mailed link's token, in memory only, until its page has posted it.
  const [link, setLink] = useState(initialLink);
  // The way back from a social sign-in (docs/social-login.md), until the SDK has exchanged its code.
  const [redirect, setRedirect] = useState(initialRedirect);
  const [notice, setNotice] = useState<Notice | null>(null);
  /** A social or email sign-in's second-factor step, until the sign-in page has taken it. */
  const [challenge, setChallenge] = useState<SignInStep | null>(null);
  const shownNotice = notice && notice.route === route ? <NoticeAlert notice={notice} /> : null;
  if (redirect) {
    return (
      <>
        <Header route={route} />
        <main className="container">
          <SocialRedirect
            url={redirect}
            onDone={(outcome) => {
              setRedirect(null);
              setNotice(outcome.notice);
              setChallenge(outcome.challenge);
            }}
          />
        </main>
      </>
    );
  }
  if (isPublicRoute(route)) {
    return (
      <>
        <Header route={route} />
        <main className="container">
          <PublicPage route={route} link={link} onSpent={() => setLink(null)} onChallenge={setChallenge} />
        </main>
      </>
    );
  }
  const page =
    route === 'password' ? <PasswordPage /> : route === 'sessions' ? <SessionsPage /> : route === 'security' ? <SecurityPage /> : <ProfilePage />;
  return (
    <>
      <Header route={route} />
      <main className="container">
        {shownNotice}
        <RequireAuth
          fallback={<SignedOut route={route} challenge={challenge} onChallengeTaken={() => setChallenge(null)} />}
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
