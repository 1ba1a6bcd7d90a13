import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Latchkey's /auth/* on the app's own origin: the refresh cookie is then first-party (no CORS,
// SameSite=Lax works). No changeOrigin: Latchkey compares the browser's Origin with the Host header.
const latchkey = process.env.LATCHKEY_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  plugins: [react()],
  server: { proxy: { '/auth': latchkey } },
  preview: { proxy: { '/auth': latchkey } },
});
