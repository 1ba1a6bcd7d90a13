import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const client = (file: string) => fileURLToPath(new URL(`../client/src/${file}`, import.meta.url));

// For development only (`npx vite --config packages/console/vite.config.ts`): the console on
// Vite's dev server, with Latchkey's /auth and /admin proxied to LATCHKEY_URL on the page's origin.
// What ships is the production build, which the server serves at /console (packages/server
// copies dist/ into its package at build time).
const target = process.env.LATCHKEY_URL ?? 'http://127.0.0.1:3000';
const proxy = { '/auth': { target }, '/admin/': { target } };

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Relative asset URLs (./assets/…): the same build works at /console/ and under an embedded
  // host's prefix (/identity/console/), which the app also reads from its own location.
  base: './',
  resolve: {
    alias: [
      { find: /^@latchkey\/client\/react$/, replacement: client('react.tsx') },
      { find: /^@latchkey\/client$/, replacement: client('index.ts') },
    ],
  },
  // esbuild's own JSX transform (React 17+ automatic runtime): no React plugin needed.
  esbuild: { jsx: 'automatic' },
  server: { host: '127.0.0.1', port: Number(process.env.CONSOLE_PORT ?? 5174), strictPort: true, proxy },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Every asset a file of its own: the page's CSP allows no data: URLs.
    assetsInlineLimit: 0,
    // No source maps in the server package (the sources are in the repository).
    sourcemap: false,
  },
});
