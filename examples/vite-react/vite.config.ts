import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Latchkey's /auth/* on the app's own origin: the refresh cookie is then first-party (no CORS,
// SameSite=Lax works). The object form keeps the browser's Host header, which Latchkey compares
// with its Origin (the string shorthand '/auth': url turns changeOrigin on and rewrites Host).
const proxy = { '/auth': { target: process.env.LATCHKEY_URL ?? 'http://127.0.0.1:3000' } };

export default defineConfig({
  plugins: [react()],
  server: { proxy },
  preview: { proxy },
});
