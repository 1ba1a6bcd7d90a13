/**
 * oidc-provider (and Koa under it) is loaded only with OAUTH_PROVIDER on: a server without the
 * provider pays nothing for it at start-up, and on Node 20 does not print oidc-provider's
 * "Unsupported runtime" warning, which would tell every operator of a plain Latchkey about a
 * component they do not run.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/helpers.js';
import { http, requireBuild, startServer } from '../support/latchkey-process.js';

let work: { dir: string; cleanup: () => void };
beforeAll(() => {
  requireBuild();
  work = tempDir('latchkey-oauth-load-');
});
afterAll(() => work.cleanup());

describe('loading oidc-provider', () => {
  it.each([
    ['off', 'false'],
    ['on', 'true'],
  ] as const)('OAUTH_PROVIDER %s', async (name, value) => {
    const server = await startServer({
      DATABASE_URL: `sqlite:${join(work.dir, `${name}.db`)}`,
      MAIL_OUTBOX_DIR: join(work.dir, `outbox-${name}`),
      OAUTH_PROVIDER: value,
    });
    const discovery = await http(`${server.url}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    const doc = discovery.json<Record<string, unknown>>();
    expect(await server.stop()).toBe(0);
    if (value === 'true') {
      // The provider answers discovery; the warning is oidc-provider's own (Node 20 only).
      expect(doc.authorization_endpoint).toBe(`${doc.issuer as string}/oauth/authorize`);
      if (process.versions.node.startsWith('20.')) expect(server.output()).toContain('oidc-provider WARNING');
    } else {
      expect(doc.authorization_endpoint).toBeUndefined();
      expect(server.output()).not.toContain('oidc-provider');
    }
  });
});
