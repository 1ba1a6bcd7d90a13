import { createClient } from '@latchkey/client';
import { AuthProvider } from '@latchkey/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { takeMailLink } from './mail-link.ts';
import { takeRedirectUrl } from './social.tsx';
import './styles.css';

// Latchkey's /auth/* is served on this page's own origin (Vite proxies it), hence baseUrl ''.
const auth = createClient({ baseUrl: '' });
// Before anything renders: a mailed link's token leaves the address bar at once.
const link = takeMailLink();
// Back from a social sign-in (?code= or ?error=): the SDK exchanges the code and cleans the address.
const redirect = takeRedirectUrl();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <AuthProvider client={auth}>
      <App link={link} redirect={redirect} />
    </AuthProvider>
  </StrictMode>,
);
