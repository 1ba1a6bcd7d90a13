#!/usr/bin/env node
// `npm run demo`: the Latchkey server on a demo SQLite file plus the Vite dev server that serves
// the React app and proxies /auth to Latchkey (same origin: the refresh cookie is first-party).
// Ctrl-C stops both. DEMO_SOCIAL=1 adds a local OpenID provider, "Test IdP" (dev-provider.mjs),
// for trying "Sign in with ..." without registering an app anywhere.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const demoDir = join(root, 'apps', 'demo');
const serverPort = Number(process.env.LATCHKEY_PORT ?? 3100);
const demoPort = Number(process.env.DEMO_PORT ?? 5173);
const latchkeyUrl = `http://127.0.0.1:${serverPort}`;
// The page on "localhost": passkeys are bound to a host name (the RP ID), and browsers refuse an IP
// address as one. Vite listens on 127.0.0.1; browsers reach it as localhost.
const demoUrl = `http://localhost:${demoPort}`;
mkdirSync(join(root, 'data'), { recursive: true });
let vite = null;
const databaseUrl = process.env.DATABASE_URL ?? `sqlite:${join(root, 'data', 'demo.db')}`;

// Social sign-in (docs/social-login.md). The provider sends the browser back to ISSUER +
// /auth/oauth/<id>/callback, and the sign-in's cookie was set where the page started it: on the
// demo's host (its /auth proxy). So with providers the issuer is the demo's URL, whose proxy also
// serves /.well-known; without, it stays the Latchkey server's.
const localIdp = process.env.DEMO_SOCIAL === '1';
const social = localIdp || Boolean(process.env.SOCIAL_PROVIDERS);
const issuer = social ? demoUrl : latchkeyUrl;
let idp = null;
const idpEnv = {};
if (localIdp) {
  const { startDevProvider } = await import('./dev-provider.mjs');
  const clientId = 'latchkey-demo';
  const clientSecret = randomBytes(16).toString('hex');
  idp = await startDevProvider({
    port: Number(process.env.DEMO_IDP_PORT ?? serverPort + 1),
    clientId,
    clientSecret,
    redirectUri: `${issuer}/auth/oauth/testidp/callback`,
  });
  Object.assign(idpEnv, {
    SOCIAL_PROVIDERS: [process.env.SOCIAL_PROVIDERS, 'testidp'].filter(Boolean).join(','),
    SOCIAL_TESTIDP_CLIENT_ID: clientId,
    SOCIAL_TESTIDP_CLIENT_SECRET: clientSecret,
    SOCIAL_TESTIDP_ISSUER: idp.issuer,
    SOCIAL_TESTIDP_NAME: 'Test IdP',
  });
}

const server = spawn(process.execPath, [join(root, 'packages', 'server', 'bin', 'latchkey.js'), 'serve'], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: {
    ...process.env,
    PORT: String(serverPort),
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    // The issuer is the Latchkey server itself, so that its discovery document and JWKS URL point
    // there; with social sign-in, the demo's URL (see above). The mailed links open the demo page: APP_URL.
    ISSUER: issuer,
    APP_URL: process.env.APP_URL ?? demoUrl,
    // Passkeys of the demo page (docs/passkeys.md): the issuer's host is 127.0.0.1, not a valid RP ID.
    WEBAUTHN_RP_ID: process.env.WEBAUTHN_RP_ID ?? 'localhost',
    WEBAUTHN_ORIGINS: process.env.WEBAUTHN_ORIGINS ?? demoUrl,
    // Plain http on localhost: the cookies cannot carry Secure here. Never do this in production.
    COOKIE_SECURE: 'false',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...idpEnv,
  },
});

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  server.kill('SIGTERM');
  void idp?.close();
  if (vite) void vite.close().finally(() => process.exit(code));
  else process.exit(code);
}
server.on('exit', (code) => {
  if (!stopping) {
    console.error(`latchkey server exited (${code}); stopping the demo.`);
    stop(1);
  }
});
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

async function waitForServer() {
  for (let i = 0; i < 100; i += 1) {
    try {
      if ((await fetch(`${latchkeyUrl}/health/live`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`Latchkey did not start on ${latchkeyUrl}`);
}

await waitForServer();
process.env.LATCHKEY_URL = latchkeyUrl;
// The admin console on 127.0.0.1 (the issuer's own origin), not on the demo's "localhost": cookies
// ignore ports, so on the demo's host the console's refresh cookie (Path=/auth) would replace the
// demo's, and the two would rotate one session between them. Another host name keeps the two
// sessions apart, as separate origins are in production.
const consoleUrl = `${latchkeyUrl}/console/`;
process.env.LATCHKEY_CONSOLE_URL = consoleUrl;
process.env.DEMO_PORT = String(demoPort);
vite = await createServer({ configFile: join(demoDir, 'vite.config.ts') });
await vite.listen();
console.log(`\n  Latchkey demo:   ${demoUrl}/`);
console.log(`  Latchkey server: ${latchkeyUrl} (API docs at ${latchkeyUrl}/docs), database ${databaseUrl}`);
console.log(`  Issuer:          ${issuer} (discovery at ${issuer}/.well-known/openid-configuration)`);
console.log(`  Admin console:   ${consoleUrl}`);
if (idp) console.log(`  Test IdP:        ${idp.issuer} (signs in anyone: type an email as the login, any password)`);
console.log('');
