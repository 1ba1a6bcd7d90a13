/**
 * A database outage in the middle of a passkey ceremony is answered 503 SERVICE_UNAVAILABLE with
 * Retry-After, not taken for a bad response (400): the challenge is spent inside the
 * verification library's callback, whose errors the library would otherwise swallow into a
 * refusal. The outage is real: another connection holds the SQLite file's write lock past the
 * busy timeout (5 s), so the challenge's DELETE fails with SQLITE_BUSY while reads go on.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../../support/helpers.js';
import { SoftwareAuthenticator, type CreationOptions, type RequestOptions } from '../../support/webauthn-authenticator.js';

describe('a passkey sign-in while the database is locked', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({}, { db: 'sqlite' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 503, and the challenge is still usable once the database is back', async () => {
    const u = await registerAndLogin(t.app);
    const authenticator = new SoftwareAuthenticator({ origin: 'http://latchkey.test' });
    const opts = await t.app.inject({ method: 'POST', url: '/auth/passkeys/register/options', headers: bearer(u.access) });
    const reg = await t.app.inject({
      method: 'POST',
      url: '/auth/passkeys/register/verify',
      headers: bearer(u.access),
      payload: { response: authenticator.create(opts.json().options as CreationOptions) },
    });
    expect(reg.statusCode, reg.body).toBe(201);
    const options = (await t.app.inject({ method: 'POST', url: '/auth/passkeys/login/options', payload: {} })).json().options as RequestOptions;
    const response = authenticator.get(options);

    const locker = new Database(join(t.dir, 'latchkey.db'));
    locker.exec('BEGIN IMMEDIATE');
    let locked;
    try {
      locked = await t.app.inject({ method: 'POST', url: '/auth/passkeys/login/verify', payload: { response } });
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    expect(locked.statusCode, locked.body).toBe(503);
    expect(locked.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(locked.headers['retry-after']).toMatch(/^\d+$/);

    const retried = await t.app.inject({ method: 'POST', url: '/auth/passkeys/login/verify', payload: { response } });
    expect(retried.statusCode, retried.body).toBe(200);
  });
});
