import { useEffect, useState } from 'react';

// The console's pages live in the URL hash (#/users, #/new, #/users/<id>, #/oauth-clients/<id>):
// the server has one page to serve (/console/), the browser's back button works, and a user's id
// never reaches a server log or a Referer.

export type ConsoleRoute =
  | { page: 'users' }
  | { page: 'new' }
  | { page: 'user'; id: string }
  | { page: 'audit' }
  | { page: 'webhooks' }
  | { page: 'webhook'; id: string }
  | { page: 'oauth-clients' }
  | { page: 'oauth-client-new' }
  | { page: 'oauth-client'; id: string };

/** The console page named by a hash; anything unknown is the user table. */
export function parseHash(hash: string): ConsoleRoute {
  const path = hash.replace(/^#\/?/, '').split('?')[0] ?? '';
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 1 && parts[0] === 'new') return { page: 'new' };
  if (parts.length === 1 && parts[0] === 'audit') return { page: 'audit' };
  if (parts.length === 1 && parts[0] === 'webhooks') return { page: 'webhooks' };
  if (parts.length === 2 && parts[0] === 'webhooks' && parts[1]) return { page: 'webhook', id: decodeURIComponent(parts[1]) };
  if (parts.length === 1 && parts[0] === 'oauth-clients') return { page: 'oauth-clients' };
  if (parts.length === 2 && parts[0] === 'oauth-clients' && parts[1] === 'new') return { page: 'oauth-client-new' };
  if (parts.length === 2 && parts[0] === 'oauth-clients' && parts[1]) return { page: 'oauth-client', id: decodeURIComponent(parts[1]) };
  if (parts.length === 2 && parts[0] === 'users' && parts[1]) return { page: 'user', id: decodeURIComponent(parts[1]) };
  return { page: 'users' };
}

export function consoleHref(route: ConsoleRoute): string {
  if (route.page === 'user') return `#/users/${encodeURIComponent(route.id)}`;
  if (route.page === 'webhook') return `#/webhooks/${encodeURIComponent(route.id)}`;
  if (route.page === 'oauth-client') return `#/oauth-clients/${encodeURIComponent(route.id)}`;
  if (route.page === 'oauth-client-new') return '#/oauth-clients/new';
  if (route.page === 'audit' || route.page === 'webhooks' || route.page === 'oauth-clients') return `#/${route.page}`;
  return route.page === 'new' ? '#/new' : '#/users';
}

export function goTo(route: ConsoleRoute): void {
  window.location.hash = consoleHref(route);
}

/** The console page in the URL, following hash changes. */
export function useConsoleRoute(): ConsoleRoute {
  const [route, setRoute] = useState<ConsoleRoute>(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
