import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../support/helpers.js';

/**
 * The provider's sign-in page sends a social sign-in back to its own interaction URL. An operator
 * who lists REDIRECT_ALLOWED_URLS for the apps does not list that URL; the start must allow it
 * anyway while the provider is on, and only then (nothing else is opened).
 */
describe('a social sign-in started from the provider’s sign-in page', () => {
  const env = {
    SOCIAL_PROVIDERS: 'github',
    SOCIAL_GITHUB_CLIENT_ID: 'gh-client',
    SOCIAL_GITHUB_CLIENT_SECRET: 'gh-secret',
    REDIRECT_ALLOWED_URLS: 'https://app.example/',
  };
  let on: TestApp;
  let off: TestApp;
  beforeAll(async () => {
    on = await createTestApp({ ...env, OAUTH_PROVIDER: 'true' });
    off = await createTestApp(env);
  });
  afterAll(async () => {
    await on?.close();
    await off?.close();
  });

  const start = (t: TestApp, redirectTo: string) =>
    t.app.inject({ method: 'GET', url: `/auth/oauth/github/start?redirect_to=${encodeURIComponent(redirectTo)}` });

  it('may come back to the interaction URL on Latchkey’s origin while OAUTH_PROVIDER is on', async () => {
    const res = await start(on, 'http://latchkey.test/oauth/interaction/abc123/social');
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toMatch(/^https:\/\/github\.com\/login\/oauth\/authorize\?/);
  });

  it('may not with OAUTH_PROVIDER off, nor to another path or origin', async () => {
    expect((await start(off, 'http://latchkey.test/oauth/interaction/abc123/social')).json()).toMatchObject({ code: 'REDIRECT_NOT_ALLOWED' });
    for (const url of ['http://latchkey.test/auth/me', 'http://latchkey.test.evil.example/oauth/interaction/x/social', 'https://latchkey.test/oauth/interaction/x/social']) {
      expect((await start(on, url)).json(), url).toMatchObject({ status: 400, code: 'REDIRECT_NOT_ALLOWED' });
    }
    expect((await start(on, 'https://app.example/done')).statusCode).toBe(302);
  });
});
