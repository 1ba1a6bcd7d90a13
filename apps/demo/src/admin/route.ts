import { useEffect, useState } from 'react';

// The admin pages live in the URL hash (#/admin, #/admin/new, #/admin/users/<id>), so the page's
// path stays `/` and never collides with Latchkey's /admin/users API that the same origin proxies.

export type AdminRoute = { page: 'users' } | { page: 'new' } | { page: 'user'; id: string };

/** The admin page named by a hash, or null when the hash is not an admin page. */
export function parseAdminHash(hash: string): AdminRoute | null {
  const path = hash.replace(/^#\/?/, '').split('?')[0] ?? '';
  const parts = path.split('/').filter(Boolean);
  if (parts[0] !== 'admin') return null;
  if (parts.length === 1 || (parts.length === 2 && parts[1] === 'users')) return { page: 'users' };
  if (parts.length === 2 && parts[1] === 'new') return { page: 'new' };
  if (parts.length === 3 && parts[1] === 'users' && parts[2]) return { page: 'user', id: decodeURIComponent(parts[2]) };
  return { page: 'users' };
}

export function adminHref(route: AdminRoute): string {
  if (route.page === 'user') return `#/admin/users/${encodeURIComponent(route.id)}`;
  return route.page === 'new' ? '#/admin/new' : '#/admin';
}

export function goAdmin(route: AdminRoute): void {
  window.location.hash = adminHref(route);
}

/** The admin page in the URL, following hash changes; null outside the admin area. */
export function useAdminRoute(): AdminRoute | null {
  const [route, setRoute] = useState<AdminRoute | null>(() => parseAdminHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseAdminHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
