import type { User } from '@latchkey/client';
import { useAuth } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { ConsoleArea } from './ConsoleArea.tsx';
import { NotAdminPage } from './pages/NotAdminPage.tsx';
import { RecoveryCodesPage, SecondFactorPage, type SecondStep } from './pages/SecondFactorPage.tsx';
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

  // The step after a right password (a code, or an enrolment under MFA_REQUIRED_ROLES), and the
  // recovery codes of an enrolment, shown once before the console opens.
  const [step, setStep] = useState<SecondStep | null>(null);
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);

  /**
   * Runs a call that signs in, then keeps the session only for an admin. While it runs the form
   * stays up, so that a non-admin's brief sign-in never shows a page.
   */
  const finish = async (signIn: () => Promise<{ user: User; recoveryCodes?: string[] } | null>) => {
    setSigningIn(true);
    setRefused(null);
    try {
      const done = await signIn();
      if (!done) return;
      setStep(null);
      if (!isAdmin(done.user)) {
        setRefused(done.user.email);
        await client.logout().catch(() => undefined);
      } else if (done.recoveryCodes && done.recoveryCodes.length > 0) {
        setRecoveryCodes(done.recoveryCodes);
      }
    } finally {
      setSigningIn(false);
    }
  };

  const signIn = (credentials: { email: string; password: string }) =>
    finish(async () => {
      const result = await client.login(credentials);
      // No session yet: the code step, or the enrolment a role requires.
      if (result.status !== 'signed_in') {
        setStep(result);
        return null;
      }
      return { user: result.user };
    });

  const admin = status === 'authenticated' && user && isAdmin(user) ? user : null;
  let page: ReactNode;
  if (status === 'loading') {
    page = (
      <p className="muted" role="status">
        Loading…
      </p>
    );
  } else if (step !== null && (status === 'anonymous' || signingIn)) {
    page = <SecondFactorPage step={step} finish={finish} onCancel={() => setStep(null)} />;
  } else if (status === 'anonymous' || signingIn || (refused !== null && !admin)) {
    page = <SignInPage signIn={signIn} refused={refused} />;
  } else if (admin && recoveryCodes) {
    page = <RecoveryCodesPage codes={recoveryCodes} onContinue={() => setRecoveryCodes(null)} />;
  } else if (!admin) {
    page = <NotAdminPage user={user!} />;
  } else {
    page = <ConsoleArea route={route} me={admin} />;
  }

  return (
    <>
      <TopBar admin={signingIn || recoveryCodes ? null : admin} />
      <main className={admin && !signingIn ? 'container container-wide' : 'container'}>{page}</main>
    </>
  );
}
