/**
 * The Store conformance suite's runner: every adapter's test file (sqlite.test.ts,
 * postgres.test.ts) calls describeStoreConformance, which runs the case files of cases/, one
 * per concern of the contract in src/store/contract/. Together they cover every method, and
 * fire concurrent calls wherever the contract states atomicity. No case is skipped for any
 * adapter.
 */
import { afterEach, beforeEach, describe } from 'vitest';
import type { NewSession, NewUser, RotateInput, Store } from '../../src/store/types.js';
import { IDLE, SECOND, hash, newSession, newUser, type ConformanceOptions, type StoreCaseContext } from './cases/context.js';
import { emailSignInCases } from './cases/email-sign-in.js';
import { accountDeletionCases } from './cases/account-deletion.js';
import { auditCases } from './cases/audit.js';
import { factorCases } from './cases/factors.js';
import { identityCases } from './cases/identities.js';
import { lifecycleCases } from './cases/lifecycle.js';
import { migrationCases } from './cases/migrations.js';
import { oauthClientCases } from './cases/oauth-clients.js';
import { oauthPayloadCases } from './cases/oauth-payloads.js';
import { oneTimeTokenCases } from './cases/one-time-tokens.js';
import { passkeyCases } from './cases/passkeys.js';
import { outageCases } from './cases/outages.js';
import { rateCounterCases } from './cases/rate-counters.js';
import { revocationCases } from './cases/revocations.js';
import { securityEventCases } from './cases/security-events.js';
import { sessionCases } from './cases/sessions.js';
import { signingKeyCases } from './cases/signing-keys.js';
import { userAdminCases } from './cases/user-admin.js';
import { userCases } from './cases/users.js';
import { webhookCases } from './cases/webhooks.js';

export type { ConformanceOptions } from './cases/context.js';

/**
 * Registers the conformance cases. `makeStore` returns a new, empty, not yet migrated store for
 * each case; the suite migrates it and closes it afterwards.
 */
export function describeStoreConformance(name: string, makeStore: () => Promise<Store>, options: ConformanceOptions): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store | undefined;
    let applied: number[] = [];

    beforeEach(async () => {
      store = await makeStore();
      applied = await store.migrate();
    });

    afterEach(async () => {
      await store?.close();
      store = undefined;
    });

    const ctx: StoreCaseContext = {
      get store(): Store {
        if (!store) throw new Error('the store exists only while a case runs');
        return store;
      },
      get applied() {
        return applied;
      },
      makeStore,
      countRows: () => options.countRows(ctx.store),
      rowsMentioning: (needles) => options.rowsMentioning(ctx.store, needles),
      unreachableStore: () => options.unreachableStore(),
      tamperAudit: () => options.tamperAudit(ctx.store),
      async user(overrides: Partial<NewUser> = {}) {
        const u = await ctx.store.createUser(newUser(overrides));
        if (!u) throw new Error('setup: createUser returned null');
        return u;
      },
      async session(userId: string, overrides: Partial<NewSession> = {}) {
        const input = newSession(userId, overrides);
        const s = await ctx.store.createSession(input);
        return { ...s, token: input.refreshTokenHash };
      },
      rotate(oldTokenHash: string, now: number, extra: Partial<RotateInput> = {}) {
        return ctx.store.rotateRefreshToken({ oldTokenHash, newTokenHash: hash(), now, graceMs: 10 * SECOND, idleTimeoutMs: IDLE, ...extra });
      },
    };

    migrationCases(ctx);
    lifecycleCases(ctx);
    userCases(ctx);
    userAdminCases(ctx);
    sessionCases(ctx);
    signingKeyCases(ctx);
    securityEventCases(ctx);
    oneTimeTokenCases(ctx);
    factorCases(ctx);
    accountDeletionCases(ctx);
    passkeyCases(ctx);
    identityCases(ctx);
    rateCounterCases(ctx);
    emailSignInCases(ctx);
    auditCases(ctx);
    webhookCases(ctx);
    revocationCases(ctx);
    oauthClientCases(ctx);
    oauthPayloadCases(ctx);
    outageCases(ctx);
  });
}
