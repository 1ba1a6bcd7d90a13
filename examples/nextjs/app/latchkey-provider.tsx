'use client';

import { createClient, type LatchkeyClient } from '@latchkey/client';
import { AuthProvider } from '@latchkey/client/react';
import { useEffect, useState, type ReactNode } from 'react';

let client: LatchkeyClient | undefined;

/**
 * The page's one client, made on first use in the browser: @latchkey/client keeps the access
 * token in memory and coordinates tabs, so it never runs during server rendering. Every new
 * access token is also handed to POST /api/session, which keeps it in an HttpOnly cookie for
 * server components.
 */
function latchkeyClient(): LatchkeyClient {
  if (client === undefined) {
    const auth = createClient({ baseUrl: '' }); // /auth/* is rewritten to Latchkey: next.config.ts
    auth.onAuthChange((state, event) => {
      if (state.status === 'authenticated' && event !== 'user_updated') {
        void auth.fetch('/api/session', { method: 'POST' }); // auth.fetch adds the bearer token
      } else if (state.status === 'anonymous') {
        void fetch('/api/session', { method: 'DELETE' });
      }
    });
    client = auth;
  }
  return client;
}

/**
 * Wrap the client components that use `useAuth` in this, not the root layout: it renders its
 * children only once in the browser, and would hold back the server-rendered HTML of every
 * server component below it.
 */
export function LatchkeyProvider({ children }: { children: ReactNode }) {
  const [auth, setAuth] = useState<LatchkeyClient | null>(null);
  useEffect(() => setAuth(latchkeyClient()), []);
  if (auth === null) return <p>Loading…</p>;
  return <AuthProvider client={auth}>{children}</AuthProvider>;
}
