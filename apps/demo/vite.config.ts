import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const client = (file: string) => fileURLToPath(new URL(`../../packages/client/src/${file}`, import.meta.url));

// The demo talks to Latchkey on its own origin: /auth/* is proxied to the server, so the refresh
// cookie is first-party (SameSite=Lax works, no CORS). LATCHKEY_URL says where the server is.
const target = process.env.LATCHKEY_URL ?? 'http://127.0.0.1:3000';
// /.well-known too, for `DEMO_SOCIAL=1 npm run demo`, whose issuer is this page (scripts/dev.mjs).
const proxy = { '/auth': { target }, '/.well-known': { target } };
// The "Admin console" link of an admin's top bar: the console the Latchkey server serves itself.
const consoleUrl = process.env.LATCHKEY_CONSOLE_URL ?? `${target}/console/`;

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  resolve: {
    alias: [
      { find: /^@latchkey\/client\/react$/, replacement: client('react.tsx') },
      { find: /^@latchkey\/client$/, replacement: client('index.ts') },
    ],
  },
  define: { __LATCHKEY_CONSOLE_URL__: JSON.stringify(consoleUrl) },
  // esbuild's own JSX transform (React 17+ automatic runtime): no React plugin needed.
  esbuild: { jsx: 'automatic' },
  server: {
    host: '127.0.0.1',
    port: Number(process.env.DEMO_PORT ?? 5173),
    strictPort: true,
    // The Host header is kept (no changeOrigin): Latchkey checks Origin against it on cookie requests.
    proxy,
  },
  preview: { host: '127.0.0.1', proxy },
  build: { outDir: 'dist', emptyOutDir: true },
});
