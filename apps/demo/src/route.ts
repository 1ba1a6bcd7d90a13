import { useEffect, useState } from 'react';

export type Route = 'login' | 'register' | 'profile' | 'password' | 'sessions' | 'security' | PublicRoute;
/** Pages open to everyone, signed in or not: the mailed links' pages and "forgot password". */
export type PublicRoute = 'verify-email' | 'reset-password' | 'accept-invite' | 'forgot-password' | 'email-sign-in';
const PUBLIC_ROUTES: readonly PublicRoute[] = ['verify-email', 'reset-password', 'accept-invite', 'forgot-password', 'email-sign-in'];
const ROUTES: readonly Route[] = ['login', 'register', 'profile', 'password', 'sessions', 'security', ...PUBLIC_ROUTES];

export function isPublicRoute(route: Route): route is PublicRoute {
  return (PUBLIC_ROUTES as readonly string[]).includes(route);
}

function current(): Route {
  const name = window.location.hash.replace(/^#\/?/, '');
  return (ROUTES as readonly string[]).includes(name) ? (name as Route) : 'profile';
}

/** The page named by the URL hash (#/profile, #/sessions, ...). */
export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(current);
  useEffect(() => {
    const onChange = () => setRoute(current());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function go(route: Route): void {
  window.location.hash = `#/${route}`;
}
