/** Helpers of the second-factor suites (test/features/factors/). */
import type { FastifyInstance } from 'fastify';
import type { Response as InjectResponse } from 'light-my-request';
import { expect } from 'vitest';
import { totpCode } from '../../src/features/factors/totp.js';
import { bearer } from './helpers.js';

export const PASSWORD = 'correct horse battery staple';
export const STEP = 30_000;

export interface Enrolled {
  secret: string;
  recoveryCodes: string[];
}

/** Enrols and confirms TOTP for the caller of `access`, with the code of the app's clock now. */
export async function enrolTotp(app: FastifyInstance, access: string): Promise<Enrolled> {
  const started = await app.inject({ method: 'POST', url: '/auth/factors/totp', headers: bearer(access) });
  expect(started.statusCode, started.body).toBe(201);
  const { secret } = started.json() as { secret: string };
  const confirmed = await app.inject({
    method: 'POST',
    url: '/auth/factors/totp/confirm',
    headers: bearer(access),
    payload: { code: totpCode(secret, app.latchkey.clock()) },
  });
  expect(confirmed.statusCode, confirmed.body).toBe(200);
  return { secret, recoveryCodes: (confirmed.json() as { recovery_codes: string[] }).recovery_codes };
}

/** The code of the app's clock now, `steps` steps away. */
export function codeAt(app: FastifyInstance, secret: string, steps = 0): string {
  return totpCode(secret, app.latchkey.clock() + steps * STEP);
}

export function loginRequest(app: FastifyInstance, email: string, headers: Record<string, string> = {}, remoteAddress?: string): Promise<InjectResponse> {
  return app.inject({ method: 'POST', url: '/auth/login', headers, payload: { email, password: PASSWORD }, ...(remoteAddress ? { remoteAddress } : {}) });
}

/** Logs in an account with a second factor; returns the mfa_token of the challenge. */
export async function mfaToken(app: FastifyInstance, email: string, remoteAddress?: string): Promise<string> {
  const res = await loginRequest(app, email, {}, remoteAddress);
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json() as { mfa_required: boolean; mfa_token: string };
  expect(body.mfa_required).toBe(true);
  return body.mfa_token;
}

export function verify(
  app: FastifyInstance,
  payload: Record<string, unknown>,
  headers: Record<string, string> = {},
  remoteAddress?: string,
): Promise<InjectResponse> {
  return app.inject({ method: 'POST', url: '/auth/mfa/verify', headers, payload, ...(remoteAddress ? { remoteAddress } : {}) });
}

/** The payload of a JWT, unverified. */
export function payloadOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}
