import { createClient } from '@latchkey/client';
import { AuthProvider } from '@latchkey/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { AdminApiProvider, mountPrefix } from './console-context.tsx';
import './styles.css';
import './console.css';

// The console is served by Latchkey itself, so /auth and /admin are on this page's origin, below
// the same mount prefix as the console: the refresh cookie is first-party, and no CORS is involved.
const base = mountPrefix(window.location.pathname);
const auth = createClient({ baseUrl: base });

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <AuthProvider client={auth}>
      <AdminApiProvider base={base}>
        <App />
      </AdminApiProvider>
    </AuthProvider>
  </StrictMode>,
);
