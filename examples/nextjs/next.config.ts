import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NextConfig } from 'next';

// Where this app reaches Latchkey. Read at build time: the rewrite below is compiled into the build.
const latchkey = process.env.LATCHKEY_URL ?? process.env.LATCHKEY_ISSUER ?? 'http://127.0.0.1:3000';

const nextConfig: NextConfig = {
  // Latchkey's /auth/* on the app's own origin, so that @latchkey/client's refresh cookie is
  // first-party (SameSite=Lax, no CORS). Latchkey must accept this origin: see docs/own-app.md.
  async rewrites() {
    return [{ source: '/auth/:path*', destination: `${latchkey}/auth/:path*` }];
  },
  // This folder is the project root, whatever lock files the folders above it hold.
  turbopack: { root: dirname(fileURLToPath(import.meta.url)) },
};

export default nextConfig;
