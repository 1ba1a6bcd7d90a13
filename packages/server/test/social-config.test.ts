/**
 * The social sign-in settings (docs/social-login.md): SOCIAL_PROVIDERS and SOCIAL_<ID>_*, and
 * REDIRECT_ALLOWED_URLS. A bad value stops start-up with a message naming the variable (or the
 * option's path); nothing here fetches discovery.
 */
import { describe, expect, it } from 'vitest';
import { configFromSections, ConfigError, loadConfig } from '../src/config.js';

function refused(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

const ACME = { SOCIAL_PROVIDERS: 'acme', SOCIAL_ACME_CLIENT_ID: 'id', SOCIAL_ACME_CLIENT_SECRET: 'secret', SOCIAL_ACME_ISSUER: 'https://id.acme.example' };

describe('social providers', () => {
  it('none by default; the redirect allow-list defaults to APP_URL’s and each CORS origin’s root', () => {
    const config = loadConfig({ APP_URL: 'https://app.example/base', CORS_ORIGINS: 'https://spa.example,https://app.example' });
    expect(config.social.providers).toEqual({});
    expect(config.social.redirectAllowedUrls).toEqual(['https://app.example/', 'https://spa.example/']);
  });

  it('google, github and microsoft get their defaults; other ids are OIDC with the id as name', () => {
    const config = loadConfig({
      SOCIAL_PROVIDERS: 'google, github,microsoft,acme-corp',
      SOCIAL_GOOGLE_CLIENT_ID: 'g',
      SOCIAL_GOOGLE_CLIENT_SECRET: 'gs',
      SOCIAL_GITHUB_CLIENT_ID: 'h',
      SOCIAL_GITHUB_CLIENT_SECRET: 'hs',
      SOCIAL_MICROSOFT_CLIENT_ID: 'm',
      SOCIAL_MICROSOFT_CLIENT_SECRET: 'ms',
      SOCIAL_MICROSOFT_ISSUER: 'https://login.microsoftonline.com/tenant-id/v2.0',
      SOCIAL_ACME_CORP_CLIENT_ID: 'a',
      SOCIAL_ACME_CORP_CLIENT_SECRET: 'as',
      SOCIAL_ACME_CORP_ISSUER: 'http://127.0.0.1:8080/realms/x',
      SOCIAL_ACME_CORP_SCOPES: 'openid,email',
    });
    expect(Object.keys(config.social.providers)).toEqual(['google', 'github', 'microsoft', 'acme-corp']);
    expect(config.social.providers.google).toMatchObject({ type: 'oidc', name: 'Google', issuer: 'https://accounts.google.com', scopes: 'openid email profile' });
    expect(config.social.providers.github).toMatchObject({
      type: 'github',
      name: 'GitHub',
      issuer: null,
      scopes: 'read:user user:email',
      authorizeUrl: 'https://github.com/login/oauth/authorize',
      tokenUrl: 'https://github.com/login/oauth/access_token',
      apiUrl: 'https://api.github.com',
    });
    expect(config.social.providers.microsoft).toMatchObject({ name: 'Microsoft', issuer: 'https://login.microsoftonline.com/tenant-id/v2.0' });
    expect(config.social.providers['acme-corp']).toMatchObject({ type: 'oidc', name: 'acme-corp', scopes: 'openid email', issuer: 'http://127.0.0.1:8080/realms/x' });
  });

  it.each<[string, Record<string, string>, string]>([
    ['SOCIAL_PROVIDERS', { SOCIAL_PROVIDERS: 'Acme' }, 'lowercase'],
    ['SOCIAL_PROVIDERS', { SOCIAL_PROVIDERS: 'a_b' }, 'lowercase'],
    ['SOCIAL_PROVIDERS', { ...ACME, SOCIAL_PROVIDERS: 'acme,acme' }, 'twice'],
    ['SOCIAL_ACME_CLIENT_ID', { ...ACME, SOCIAL_ACME_CLIENT_ID: '' }, 'required'],
    ['SOCIAL_ACME_CLIENT_SECRET', { ...ACME, SOCIAL_ACME_CLIENT_SECRET: '' }, 'required'],
    ['SOCIAL_ACME_ISSUER', { ...ACME, SOCIAL_ACME_ISSUER: '' }, 'required'],
    ['SOCIAL_ACME_ISSUER', { ...ACME, SOCIAL_ACME_ISSUER: 'http://id.acme.example' }, 'https'],
    ['SOCIAL_ACME_ISSUER', { ...ACME, SOCIAL_ACME_ISSUER: 'not a url' }, 'http(s) URL'],
    ['SOCIAL_ACME_TYPE', { ...ACME, SOCIAL_ACME_TYPE: 'saml' }, 'oidc, github'],
    ['SOCIAL_MICROSOFT_ISSUER', { SOCIAL_PROVIDERS: 'microsoft', SOCIAL_MICROSOFT_CLIENT_ID: 'm', SOCIAL_MICROSOFT_CLIENT_SECRET: 's' }, 'tenant'],
    [
      'SOCIAL_MICROSOFT_ISSUER',
      { SOCIAL_PROVIDERS: 'microsoft', SOCIAL_MICROSOFT_CLIENT_ID: 'm', SOCIAL_MICROSOFT_CLIENT_SECRET: 's', SOCIAL_MICROSOFT_ISSUER: 'https://login.microsoftonline.com/common/v2.0' },
      'tenant id',
    ],
    ['SOCIAL_GITHUB_API_URL', { SOCIAL_PROVIDERS: 'github', SOCIAL_GITHUB_CLIENT_ID: 'h', SOCIAL_GITHUB_CLIENT_SECRET: 's', SOCIAL_GITHUB_API_URL: 'http://ghe.example' }, 'https'],
    ['REDIRECT_ALLOWED_URLS', { REDIRECT_ALLOWED_URLS: '/relative/' }, 'absolute'],
    ['REDIRECT_ALLOWED_URLS', { REDIRECT_ALLOWED_URLS: 'https://user:pw@app.example/' }, 'credentials'],
    ['REDIRECT_ALLOWED_URLS', { REDIRECT_ALLOWED_URLS: 'https://app.example/#x' }, 'fragment'],
  ])('%s: a bad value stops start-up naming it (%j)', (variable, env, words) => {
    const err = refused(env);
    expect(err.variable).toBe(variable);
    expect(err.message).toContain(words);
  });

  it('the secret is never in a message', () => {
    const err = refused({ ...ACME, SOCIAL_ACME_ISSUER: 'http://id.acme.example', SOCIAL_ACME_CLIENT_SECRET: 'super-secret-value' });
    expect(err.message).not.toContain('super-secret-value');
  });

  it('as the plugin’s options: providers by id, checked the same way, a misspelt field named by its path', () => {
    const config = configFromSections({ social: { providers: { google: { clientId: 'g', clientSecret: 's' } }, redirectAllowedUrls: ['https://app.example/done'] } });
    expect(config.social.providers.google).toMatchObject({ issuer: 'https://accounts.google.com', clientId: 'g' });
    expect(config.social.redirectAllowedUrls).toEqual(['https://app.example/done']);
    expect(() => configFromSections({ social: { providers: { acme: { clientId: 'a', clientSecret: 's' } } } })).toThrow('social.providers.acme.issuer');
    const misspelt = { social: { providers: { google: { clientId: 'g', clientSecret: 's', clientSecert: 'x' } } } } as unknown as Parameters<typeof configFromSections>[0];
    expect(() => configFromSections(misspelt)).toThrow('social.providers.google.clientSecert');
  });
});
