/**
 * The words a person reads when a request is refused for its fields: each field error names the
 * field and says what to do, once per field, and the problem's `detail` is the one message or a
 * pointer to the fields. The exact texts are the contract the demo and the console show.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerAndLogin, type TestApp } from '../support/helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

async function post(url: string, payload: unknown, headers: Record<string, string> = {}) {
  const res = await t.app.inject({ method: 'POST', url, payload: payload as object, headers });
  return { status: res.statusCode, body: res.json() as { code: string; detail: string; errors?: Array<{ field: string; message: string }> } };
}

describe('field errors for people', () => {
  it.each([
    ['a malformed email', { email: 'not-an-email', password: 'correct horse battery staple' }, 'email', 'Email must be an email address, like name@example.com.'],
    ['a short password', { email: 'short@example.com', password: 'zq7#kw2' }, 'password', 'Password must be at least 8 characters.'],
    ['a long password', { email: 'long@example.com', password: 'x'.repeat(257) }, 'password', 'Password must be at most 256 characters.'],
    ['a common password', { email: 'common@example.com', password: 'password1' }, 'password', 'Password is one of the most common passwords; choose one that is harder to guess.'],
    ['a missing field', { email: 'missing@example.com' }, 'password', 'Password is required.'],
    ['an unknown field', { email: 'extra@example.com', password: 'correct horse battery staple', nickname: 'x' }, 'nickname', '"nickname" is not a field of this request; remove it.'],
    ['a wrong type', { email: 'type@example.com', password: 'correct horse battery staple', name: 42 }, 'name', 'Name must be text or null.'],
    ['an empty password', { email: 'empty@example.com', password: '' }, 'password', 'Password must not be empty.'],
  ])('register with %s: one sentence naming the field, and it is the detail', async (_case, payload, field, message) => {
    const res = await post('/auth/register', payload);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors).toEqual([{ field, message }]);
    expect(res.body.detail).toBe(message);
  });

  it('several fields: one error per field, the detail points at them', async () => {
    // An address both too long and malformed: Ajv reports two errors for it (allErrors).
    const res = await post('/auth/register', { email: `${'a'.repeat(260)}`, password: 'correct horse battery staple' });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([{ field: 'email', message: 'Email must be at most 254 characters.' }]);
    expect(res.body.detail).toBe('Email must be at most 254 characters.');
    const both = await post('/auth/register', {});
    expect(both.body.errors).toEqual([
      { field: 'email', message: 'Email is required.' },
      { field: 'password', message: 'Password is required.' },
    ]);
    expect(both.body.detail).toBe('Check the highlighted fields.');
  });

  it('the body itself: not an object', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/auth/register', payload: '[1]', headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ detail: 'The request body must be a JSON object.', errors: [{ field: '(body)', message: 'The request body must be a JSON object.' }] });
  });

  it('the new password of change-password is named as such', async () => {
    const user = await registerAndLogin(t.app);
    const res = await post('/auth/change-password', { current_password: user.password, new_password: 'tiny' }, bearer(user.access));
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([{ field: 'new_password', message: 'New password must be at least 8 characters.' }]);
    expect(res.body.detail).toBe('New password must be at least 8 characters.');
  });

  it('login without a body names both fields; the OAuth2 member stays', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/auth/login' });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({
      error: 'invalid_request',
      detail: 'Check the highlighted fields.',
      errors: [
        { field: 'email', message: 'Email is required.' },
        { field: 'password', message: 'Password is required.' },
      ],
    });
  });
});
