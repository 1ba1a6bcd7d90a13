import { createClient } from '@latchkey/client';
import { AuthProvider } from '@latchkey/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import './styles.css';

// Latchkey's /auth/* is served on this page's own origin (Vite proxies it), hence baseUrl ''.
const auth = createClient({ baseUrl: '' });

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <AuthProvider client={auth}>
      <App />
    </AuthProvider>
  </StrictMode>,
);
