import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/helpers.js';

const PASSWORD = 'Tr0ub4dor and a long secret tail';
const NEW_PASSWORD = 'a brand new secret passphrase 42';

interface Secrets {
  values: Set<string>;
  add(value: string | undefined | null): void;
}

function secretSet(): Secrets {
  const values = new Set<string>();
  return {
    values,
    add(value) {
      if (!value) return;
      values.add(value);
      // Also the ways a value could be re-encoded on its way into a log line.
      values.add(encodeURIComponent(value));
      values.add(new URLSearchParams({ v: value }).toString().slice(2));
      values.add(JSON.stringify(value).slice(1, -1));
      // Each part of a JWT on its own (the header is shared by every token, so not a secret).
      const parts = value.split('.');
      if (parts.length === 3) {
        values.add(parts[1]!);
        values.add(parts[2]!);
      }
    },
  };
}

/**
 * Runs the whole account flow through HTTP, recording every secret that crossed the wire or
 * sits in the store, and how many requests were made.
 */
async function runFullFlow(t: TestApp): Promise<{ secrets: Secrets; requests: number }> {
  const secrets = secretSet();
  let requests = 0;
  const app: FastifyInstance = t.app;
  const send = async (options: InjectOptions, expected: number): Promise<LightMyRequestResponse> => {
    requests++;
    const res = await app.inject(options);
    expect(res.statusCode, `${options.method} ${options.url}: ${res.body}`).toBe(expected);
    for (const c of res.cookies) secrets.add(c.value);
    return res;
  };
  const tokens = (res: LightMyRequestResponse) => {
    const body = res.json() as { access_token: string; refresh_token?: string; csrf_token?: string };
    secrets.add(body.access_token);
    secrets.add(body.refresh_token);
    if (body.refresh_token) secrets.add(createHash('sha256').update(body.refresh_token).digest('hex'));
    return body;
  };
  secrets.add(PASSWORD);
  secrets.add(NEW_PASSWORD);
  const email = 'logged@example.com';

  // Failures first: they must not leak what they were given either.
  await send({ method: 'POST', url: '/auth/register', payload: { email, password: 'password' } }, 422);
  await send({ method: 'POST', url: '/auth/login', payload: { email: 'nobody@example.com', password: PASSWORD } }, 400);

  await send({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD, name: 'Logged' } }, 201);
  const hashBefore = (await t.app.latchkey.store.findUserByEmail(email))!.passwordHash;
  secrets.add(hashBefore);
  secrets.add(hashBefore.split('$').pop());

  await send({ method: 'POST', url: '/auth/login', payload: { email, password: 'not the password' } }, 400);
  const json = tokens(await send({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } }, 200));
  const form = tokens(
    await send(
      {
        method: 'POST',
        url: '/auth/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'password', username: email, password: PASSWORD }).toString(),
      },
      200,
    ),
  );
  const cookieLogin = await send({ method: 'POST', url: '/auth/login', headers: { 'x-auth-mode': 'cookie' }, payload: { email, password: PASSWORD } }, 200);
  const cookieBody = tokens(cookieLogin);
  secrets.add(cookieBody.csrf_token);

  const auth = { authorization: `Bearer ${json.access_token}` };
  await send({ method: 'GET', url: '/auth/me', headers: auth }, 200);
  await send({ method: 'GET', url: `/auth/me?access_token=${json.access_token}` }, 401);
  await send({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${json.access_token}x` } }, 401);
  await send({ method: 'PATCH', url: '/auth/me', headers: auth, payload: { name: 'Still Logged' } }, 200);

  const refreshed = tokens(await send({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: form.refresh_token } }, 200));
  const cookies = Object.fromEntries(cookieLogin.cookies.map((c) => [c.name, c.value]));
  tokens(
    await send(
      {
        method: 'POST',
        url: '/auth/refresh',
        headers: { 'x-csrf-token': cookies.lk_csrf ?? '' },
        cookies,
      },
      200,
    ),
  );

  await send(
    { method: 'POST', url: '/auth/change-password', headers: auth, payload: { current_password: 'wrong current password', new_password: NEW_PASSWORD } },
    400,
  );
  await send({ method: 'POST', url: '/auth/change-password', headers: auth, payload: { current_password: PASSWORD, new_password: NEW_PASSWORD } }, 204);
  const hashAfter = (await t.app.latchkey.store.findUserByEmail(email))!.passwordHash;
  secrets.add(hashAfter);
  secrets.add(hashAfter.split('$').pop());

  // The refresh token of a session ended by the password change.
  await send({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: refreshed.refresh_token } }, 401);
  await send({ method: 'POST', url: '/auth/logout', headers: auth }, 204);
  await send({ method: 'GET', url: '/auth/me', headers: auth }, 401);
  return { secrets, requests };
}

function parse(lines: string[]): Array<Record<string, unknown>> {
  return lines.flatMap((chunk) => chunk.split('\n').filter(Boolean)).map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('logs', () => {
  it('never contain a password, a hash or a token, and have exactly one line per request', async () => {
    const t = await createTestApp({ LOG_LEVEL: 'info' });
    try {
      const { secrets, requests } = await runFullFlow(t);
      const text = t.logs.join('');
      expect(secrets.values.size).toBeGreaterThan(20);
      for (const secret of secrets.values) expect(text.includes(secret), `log contains ${secret.slice(0, 12)}…`).toBe(false);

      const entries = parse(t.logs);
      const perRequest = entries.filter((e) => 'reqId' in e);
      expect(perRequest).toHaveLength(requests);
      expect(new Set(perRequest.map((e) => e.reqId)).size).toBe(requests);
      for (const e of perRequest) {
        expect(e).toMatchObject({ msg: 'request', level: 30 });
        expect(typeof e.method).toBe('string');
        expect(typeof e.status).toBe('number');
        // The path only: a query string could carry a secret.
        expect(String(e.path)).not.toContain('?');
      }
      expect(perRequest.filter((e) => e.status === 401)).toHaveLength(4);
    } finally {
      await t.close();
    }
  });

  it('stay clean at LOG_LEVEL=trace too', async () => {
    const t = await createTestApp({ LOG_LEVEL: 'trace' });
    try {
      const { secrets } = await runFullFlow(t);
      const text = t.logs.join('');
      expect(text.length).toBeGreaterThan(0);
      for (const secret of secrets.values) expect(text.includes(secret), `log contains ${secret.slice(0, 12)}…`).toBe(false);
    } finally {
      await t.close();
    }
  });

  it('the check can fail: a secret that is logged is found', async () => {
    const t = await createTestApp();
    try {
      t.app.log.info({ leaked: `Bearer ${PASSWORD}` }, 'oops');
      expect(t.logs.join('').includes(PASSWORD)).toBe(true);
    } finally {
      await t.close();
    }
  });
});
