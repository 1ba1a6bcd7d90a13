/**
 * The outage rule of the contract: a store that cannot reach its database rejects with
 * DatabaseUnavailableError (which the HTTP layer answers 503), whatever the adapter and the
 * concern; any other failure keeps its own error.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
// The public export (what an embedder catches), which is the class the adapters throw.
import { DatabaseUnavailableError } from '../../../src/index.js';
import { entry } from './audit.js';
import { T0, hash, key, newSession, newUser, type StoreCaseContext } from './context.js';

/** The error a call rejected with, or null when it resolved. */
async function rejection(call: () => Promise<unknown>): Promise<unknown> {
  return call().then(
    () => null,
    (err: unknown) => err,
  );
}

export function outageCases(ctx: StoreCaseContext): void {
  const { user, session } = ctx;

  describe('outages', () => {
    it('a store that cannot reach its database rejects with DatabaseUnavailableError, from every concern', async () => {
      const down = await ctx.unreachableStore();
      try {
        const calls: Record<string, () => Promise<unknown>> = {
          ping: () => down.ping(),
          pendingMigrations: () => down.pendingMigrations(),
          migrate: () => down.migrate(),
          createUser: () => down.createUser(newUser()),
          findUserById: () => down.findUserById(randomUUID()),
          updateUserKeepingRole: () => down.updateUserKeepingRole(randomUUID(), { disabled: true }, T0, 'admin'),
          listUsers: () => down.listUsers({ limit: 10 }),
          createSession: () => down.createSession(newSession(randomUUID())),
          getSessionWithUser: () => down.getSessionWithUser(randomUUID()),
          rotateRefreshToken: () =>
            down.rotateRefreshToken({ oldTokenHash: hash(), newTokenHash: hash(), now: T0, graceMs: 0, idleTimeoutMs: 1000 }),
          revokeUserSessions: () => down.revokeUserSessions(randomUUID(), 'logout_all', T0),
          reauthenticateSession: () =>
            down.reauthenticateSession({ sessionId: randomUUID(), userId: randomUUID(), authTime: T0, amr: ['pwd'], newTokenHash: hash(), now: T0, idleTimeoutMs: 1000 }),
          listSigningKeys: () => down.listSigningKeys(),
          rotateSigningKey: () => down.rotateSigningKey(key('k', T0), T0, T0 + 1000),
          recordEvent: () => down.recordEvent({ id: randomUUID(), userId: null, type: 'login_failed', ip: null, userAgent: null, detail: null, createdAt: T0 }),
          consumeOneTimeToken: () => down.consumeOneTimeToken(hash(), 'verify_email', T0),
          listFactors: () => down.listFactors(randomUUID()),
          spendRecoveryCode: () => down.spendRecoveryCode(randomUUID(), hash(), T0),
          findPasskeyByCredentialId: () => down.findPasskeyByCredentialId('x'),
          findOAuthClient: () => down.findOAuthClient('cl_x'),
          listOAuthClients: () => down.listOAuthClients({ limit: 1 }),
          consumePasskeyChallenge: () => down.consumePasskeyChallenge(hash(), 'passkey_login', T0),
          hitRateCounter: () => down.hitRateCounter('k', T0, 1000),
          appendAudit: () => down.appendAudit(entry()),
          listAudit: () => down.listAudit({ actor: null, action: null, target: null, since: null, until: null, before: null, limit: 1 }),
        };
        for (const [name, call] of Object.entries(calls)) {
          const err = await rejection(call);
          expect(err, name).toBeInstanceOf(DatabaseUnavailableError);
          expect((err as Error).name, name).toBe('DatabaseUnavailableError');
        }
      } finally {
        await down.close();
      }
    });

    it('a failure that is not an outage (a constraint violation) keeps its own error', async () => {
      const u = await user();
      const first = await session(u.id);
      const calls: Record<string, () => Promise<unknown>> = {
        // The same id under another email: the primary key refuses it.
        createUser: () => ctx.store.createUser(newUser({ id: u.id })),
        // The same first refresh token twice.
        createSession: () => ctx.store.createSession(newSession(u.id, { refreshTokenHash: first.token })),
      };
      for (const [name, call] of Object.entries(calls)) {
        const err = await rejection(call);
        expect(err, name).toBeInstanceOf(Error);
        expect(err, name).not.toBeInstanceOf(DatabaseUnavailableError);
      }
      // The store still answers.
      await expect(ctx.store.ping()).resolves.toBeUndefined();
    });
  });
}
