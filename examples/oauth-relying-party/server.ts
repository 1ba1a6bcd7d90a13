import { buildNotesApp } from './app.js';

/** A required variable, or a message naming it. */
function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set (see examples/oauth-relying-party/README.md)`);
    process.exit(1);
  }
  return value;
}

const port = Number(process.env.PORT ?? 4000);
const appUrl = process.env.APP_URL ?? `http://127.0.0.1:${port}`;
try {
  const app = await buildNotesApp({
    issuer: required('LATCHKEY_ISSUER'),
    clientId: required('CLIENT_ID'),
    clientSecret: required('CLIENT_SECRET'),
    appUrl,
    resource: process.env.RESOURCE ?? `${appUrl}/api`,
    sessionSecret: required('SESSION_SECRET'),
    brand: process.env.LATCHKEY_BRAND ?? 'Latchkey',
    logLevel: process.env.LOG_LEVEL ?? 'info',
  });
  await app.listen({ port, host: process.env.HOST ?? '127.0.0.1' });
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
