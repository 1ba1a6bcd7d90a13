import { useLatchkeyClient } from '@latchkey/client/react';
import { createContext, useContext, useMemo, type ReactNode } from 'react';
import { adminApi, type AdminApi } from './api.ts';

/**
 * Latchkey's mount prefix, read from the console's own address: the server serves the console
 * at `<prefix>/console/`, so `/console/` gives `''` and `/identity/console/` gives `/identity`.
 * Anywhere else (Vite's dev server at `/`) the API is on the page's origin root.
 *
 * @example
 * mountPrefix('/identity/console/'); // '/identity'
 */
export function mountPrefix(pathname: string): string {
  const at = pathname.lastIndexOf('/console/');
  return at >= 0 ? pathname.slice(0, at) : '';
}

const ApiContext = createContext<AdminApi | null>(null);

/** Gives the pages the admin API of the Latchkey at `base`, through the client of the nearest AuthProvider. */
export function AdminApiProvider({ base, children }: { base: string; children?: ReactNode }): ReactNode {
  const client = useLatchkeyClient();
  const api = useMemo(() => adminApi(client, base), [client, base]);
  return <ApiContext.Provider value={api}>{children}</ApiContext.Provider>;
}

/** The admin API given to the nearest AdminApiProvider. */
export function useAdminApi(): AdminApi {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useAdminApi needs an <AdminApiProvider> above it.');
  return api;
}
