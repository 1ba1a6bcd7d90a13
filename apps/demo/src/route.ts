import { useEffect, useState } from 'react';

export type Route = 'login' | 'register' | 'profile' | 'password' | 'sessions';
const ROUTES: readonly Route[] = ['login', 'register', 'profile', 'password', 'sessions'];

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
