import type { LatchkeyError, MfaEnrollmentRequired, MfaRequired } from '@latchkey/client';
import { useAuth, useProviders } from '@latchkey/client/react';
import { useEffect, type ReactNode } from 'react';
import { ErrorAlert, useAction } from './forms.tsx';
import { go, type Route } from './route.ts';

/**
 * Social sign-in in the demo (docs/social-login.md): the "Sign in with ..." buttons, and the
 * page Latchkey's redirect comes back to (`/?code=…` or `/?error=…`).
 */

/** A message for one page, shown until the user moves to another (App renders it above the page). */
export type Notice = { route: Route; kind: 'success' | 'info'; text: string } | { route: Route; kind: 'error'; error: unknown };

/** What the way back from a provider led to, for App: where to go, what to say, or the second-factor step. */
/** A second factor (or, under MFA_REQUIRED_ROLES, its enrolment) due after the provider's sign-in. */
export type SignInStep = MfaRequired | MfaEnrollmentRequired;
export type RedirectOutcome = { notice: Notice | null; challenge: SignInStep | null };

/**
 * The address Latchkey redirected back to, when this page load is one: read once at start-up
 * (main.tsx) and handed to {@link SocialRedirect}, which the SDK cleans from the address bar.
 */
export function takeRedirectUrl(location: Location = window.location): string | null {
  const query = new URLSearchParams(location.search);
  return query.has('code') || query.has('error') ? location.href : null;
}

/** "Sign in with Google", one button per provider the server offers; nothing when it offers none. */
export function ProviderButtons({ verb = 'Sign in', onStart }: { verb?: string; onStart?: () => void }): ReactNode {
  const { signInWithProvider } = useAuth();
  const { providers } = useProviders();
  const start = useAction(async (id: string) => {
    onStart?.();
    await signInWithProvider(id);
  });
  if (!providers || providers.length === 0) return null;
  return (
    <div className="alternative providers" aria-label="Sign in with a provider" role="group">
      <ErrorAlert error={start.error} />
      {providers.map((p) => (
        <button
          key={p.id}
          type="button"
          className="button-quiet button-wide"
          data-provider={p.id}
          disabled={start.busy}
          onClick={() => void start.run(p.id)}
        >
          {verb} with {p.name}
        </button>
      ))}
    </div>
  );
}

/**
 * The page load that came back from a provider: exchanges the code (SDK), then hands App the
 * outcome. Signed in: the profile. A second factor: the code step. Linked: the Security page
 * says so. Refused: the sign-in page (or, for a link, the Security page) says why.
 */
export function SocialRedirect({ url, onDone }: { url: string; onDone: (outcome: RedirectOutcome) => void }): ReactNode {
  const { handleRedirectCallback, client } = useAuth();
  useEffect(() => {
    let live = true;
    // StrictMode runs this twice: the SDK answers both calls for one code with one exchange.
    handleRedirectCallback(url).then(
      (result) => {
        if (!live) return;
        if (result?.status === 'mfa_required' || result?.status === 'mfa_enrollment_required') {
          go('login');
          onDone({ notice: null, challenge: result });
        } else if (result?.status === 'linked') {
          go('security');
          onDone({
            notice: { route: 'security', kind: 'success', text: `${result.identity.provider_name} account linked. You can sign in with it from now on.` },
            challenge: null,
          });
        } else {
          go('profile');
          onDone({ notice: null, challenge: null });
        }
      },
      async (error: LatchkeyError) => {
        // A refused link comes back to a signed-in user: say it where the link was asked for.
        const user = await client.restore().catch(() => null);
        if (!live) return;
        const route: Route = user ? 'security' : 'login';
        go(route);
        onDone({ notice: { route, kind: 'error', error }, challenge: null });
      },
    );
    return () => {
      live = false;
    };
  }, [url]); // eslint-disable-line react-hooks/exhaustive-deps -- one redirect per page load
  return (
    <p className="muted" role="status">
      Signing you in…
    </p>
  );
}
