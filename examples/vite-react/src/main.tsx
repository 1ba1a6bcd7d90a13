import { createClient } from '@latchkey/client';
import { AuthProvider } from '@latchkey/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';

// One client per page. baseUrl '': Latchkey's /auth/* is proxied on this origin (vite.config.ts).
const auth = createClient({ baseUrl: '' });

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <AuthProvider client={auth}>
      <App />
    </AuthProvider>
  </StrictMode>,
);
