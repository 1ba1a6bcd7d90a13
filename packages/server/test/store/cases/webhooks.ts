/**
 * The webhooks concern: endpoints, the outbox written with each change (by the database, in the
 * change's transaction; none when nothing changed or the change rolled back), fan-out and claims
 * that hand each row to one caller, and the attempt log.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NewWebhookEndpoint, OutboxEvent } from '../../../src/store/types.js';
import { DAY, SECOND, T0, hash, newUser, type StoreCaseContext } from './context.js';

const ALL_TYPES = [
  'user.created',
  'user.updated',
  'user.deleted',
  'user.email_verified',
  'session.created',
  'session.revoked',
  'session.reuse_detected',
  'password.changed',
  'factor.added',
  'factor.removed',
  'identity.linked',
  'identity.unlinked',
];

function newEndpoint(overrides: Partial<NewWebhookEndpoint> = {}): NewWebhookEndpoint {
  return { id: randomUUID(), url: 'https://hooks.example/in', eventTypes: ALL_TYPES, description: null, enabled: true, secret: 'sealed', createdAt: T0, ...overrides };
}

export function webhookCases(ctx: StoreCaseContext): void {
  const { user, session } = ctx;

  /** Takes every event out of the outbox; returns them oldest first. */
  async function drain(now = T0): Promise<OutboxEvent[]> {
    const seen: OutboxEvent[] = [];
    while ((await ctx.store.fanOutWebhookEvents(now, 100, (e) => (seen.push(e), JSON.stringify(e)), randomUUID)) > 0);
    return seen;
  }
  const types = async (): Promise<string[]> => (await drain()).map((e) => e.type);

  describe('webhooks', () => {
    it('keeps endpoints with their subscriptions; update, rotate and delete', async () => {
      const e = await ctx.store.createWebhookEndpoint(newEndpoint({ eventTypes: ['user.deleted', 'user.created'], description: 'crm' }));
      expect(e).toMatchObject({ eventTypes: ['user.created', 'user.deleted'], description: 'crm', enabled: true, disabledReason: null, failingSince: null, previousSecret: null });
      expect(await ctx.store.listWebhookEndpoints()).toEqual([e]);
      const changed = await ctx.store.updateWebhookEndpoint(e.id, { eventTypes: ['session.created'], enabled: false, url: 'https://other.example/' }, T0 + SECOND);
      expect(changed).toMatchObject({ eventTypes: ['session.created'], enabled: false, url: 'https://other.example/', updatedAt: T0 + SECOND });
      const rotated = await ctx.store.rotateWebhookSecret(e.id, 'sealed-2', T0 + DAY, T0 + 2 * SECOND);
      expect(rotated).toMatchObject({ secret: 'sealed-2', previousSecret: 'sealed', previousSecretExpiresAt: T0 + DAY });
      expect(await ctx.store.updateWebhookEndpoint('missing', { enabled: true }, T0)).toBeNull();
      expect(await ctx.store.deleteWebhookEndpoint(e.id)).toBe(true);
      expect(await ctx.store.deleteWebhookEndpoint(e.id)).toBe(false);
      expect(await ctx.store.findWebhookEndpoint(e.id)).toBeNull();
    });

    it('writes no outbox row when no endpoint subscribes to the type', async () => {
      await ctx.store.createWebhookEndpoint(newEndpoint({ eventTypes: ['user.deleted'] }));
      const u = await user();
      await session(u.id);
      expect(await ctx.store.countOutboxEvents()).toBe(0);
    });

    it('writes each change’s event with the change, and none for a call that changed nothing', async () => {
      await ctx.store.createWebhookEndpoint(newEndpoint());
      const u = await user({ email: 'outbox@example.com' });
      expect(await ctx.store.createUser(newUser({ email: 'outbox@example.com' }))).toBeNull();
      expect(await types()).toEqual(['user.created']);

      await ctx.store.updateUser(u.id, {}, T0 + SECOND);
      await ctx.store.updateUser(u.id, { name: null }, T0 + SECOND);
      expect(await types()).toEqual([]);
      await ctx.store.updateUser(u.id, { name: 'Ada', emailVerified: true }, T0 + SECOND);
      const [updated, verified] = await drain();
      expect(updated).toMatchObject({ type: 'user.updated', occurredAt: T0 + SECOND, data: { before: { name: null }, after: { name: 'Ada', id: u.id } } });
      expect(JSON.stringify(updated!.data)).not.toContain('argon2');
      expect(verified).toMatchObject({ type: 'user.email_verified', data: { user: { id: u.id } } });
      // The locale (migration 10, in the events since migration 13) is a public field: its change alone is an update.
      await ctx.store.updateUser(u.id, { locale: 'de' }, T0 + SECOND);
      expect(await drain()).toMatchObject([{ type: 'user.updated', data: { before: { locale: null }, after: { locale: 'de' } } }]);

      expect(await ctx.store.replacePasswordHash(u.id, u.passwordHash, 'rehashed', T0, true)).toBe(true);
      expect(await types()).toEqual([]);
      expect(await ctx.store.replacePasswordHash(u.id, 'not-the-hash', 'x', T0)).toBe(false);
      expect(await types()).toEqual([]);
      expect(await ctx.store.replacePasswordHash(u.id, 'rehashed', 'changed', T0 + 2 * SECOND)).toBe(true);
      expect(await ctx.store.setPasswordHash(u.id, 'reset', T0 + 3 * SECOND)).toBe(true);
      expect(await drain()).toMatchObject([
        { type: 'password.changed', occurredAt: T0 + 2 * SECOND, data: { user_id: u.id } },
        { type: 'password.changed', occurredAt: T0 + 3 * SECOND },
      ]);

      const s = await session(u.id);
      expect(await drain()).toMatchObject([{ type: 'session.created', data: { user_id: u.id, session_id: s.id } }]);
      expect((await ctx.rotate(s.token, T0 + SECOND)).kind).toBe('rotated');
      expect(await types()).toEqual([]);
      expect(await ctx.store.revokeSession(u.id, s.id, 'logout', T0 + 5 * SECOND)).toBe(true);
      expect(await ctx.store.revokeSession(u.id, s.id, 'logout', T0 + 6 * SECOND)).toBe(false);
      expect(await ctx.store.revokeUserSessions(u.id, 'logout_all', T0 + 6 * SECOND)).toBe(0);
      expect(await drain()).toMatchObject([{ type: 'session.revoked', occurredAt: T0 + 5 * SECOND, data: { session_id: s.id, reason: 'logout' } }]);

      const reused = await session(u.id);
      await ctx.rotate(reused.token, T0 + SECOND);
      expect((await ctx.rotate(reused.token, T0 + 60 * SECOND)).kind).toBe('reused');
      expect(await types()).toEqual(['session.created', 'session.revoked', 'session.reuse_detected']);
    });

    it('writes factor and identity events, and only user.deleted when they go with their user', async () => {
      await ctx.store.createWebhookEndpoint(newEndpoint());
      const u = await user();
      await drain();
      const factorId = randomUUID();
      await ctx.store.putPendingFactor({ id: factorId, userId: u.id, kind: 'totp', secret: 's', createdAt: T0 });
      expect(await types()).toEqual([]);
      expect(await ctx.store.confirmFactor(u.id, factorId, 1, T0 + SECOND, [hash()])).toBe(true);
      const identity = { id: randomUUID(), userId: u.id, provider: 'acme', subject: randomUUID(), email: null, emailVerified: false, createdAt: T0 };
      expect(await ctx.store.createIdentity(identity)).toBe(true);
      expect(await ctx.store.createIdentity({ ...identity, id: randomUUID() })).toBe(false);
      expect(await drain()).toMatchObject([
        { type: 'factor.added', occurredAt: T0 + SECOND, data: { user_id: u.id, factor: 'totp', factor_id: factorId } },
        { type: 'identity.linked', data: { user_id: u.id, provider: 'acme', identity_id: identity.id } },
      ]);
      expect(await ctx.store.deleteFactor(u.id, factorId)).toBe(true);
      expect(await ctx.store.deleteIdentity(u.id, identity.id)).toBe(true);
      expect(await ctx.store.deleteIdentity(u.id, identity.id)).toBe(false);
      expect(await types()).toEqual(['factor.removed', 'identity.unlinked']);

      const second = randomUUID();
      await ctx.store.putPendingFactor({ id: second, userId: u.id, kind: 'totp', secret: 's', createdAt: T0 });
      await ctx.store.confirmFactor(u.id, second, 1, T0, []);
      await ctx.store.createIdentity({ ...identity, id: randomUUID(), subject: randomUUID() });
      await ctx.store.createSession({ id: randomUUID(), userId: u.id, createdAt: T0, expiresAt: T0 + DAY, idleExpiresAt: T0 + DAY, userAgent: null, ip: null, refreshTokenHash: hash(), authTime: T0, amr: ['pwd'] });
      await drain();
      expect(await ctx.store.deleteUser(u.id, T0)).toBe(true);
      const deleted = await drain();
      expect(deleted.map((e) => e.type)).toEqual(['user.deleted']);
      expect(deleted[0]!.data).toMatchObject({ user: { id: u.id, email: u.email } });
    });

    it('keeps no event of a transaction that rolled back', async () => {
      await ctx.store.createWebhookEndpoint(newEndpoint());
      const taken = await user();
      await drain();
      // The batch inserts its first user, then fails on the second (its id is taken): all rolled back.
      await expect(ctx.store.importUsers([newUser(), newUser({ id: taken.id })], 'skip')).rejects.toThrow();
      expect(await ctx.store.countOutboxEvents()).toBe(0);
    });

    it('fans each event out once to every enabled subscriber, even to concurrent callers', async () => {
      const a = await ctx.store.createWebhookEndpoint(newEndpoint({ eventTypes: ['user.created'] }));
      const b = await ctx.store.createWebhookEndpoint(newEndpoint({ eventTypes: ['user.created', 'session.created'] }));
      await ctx.store.createWebhookEndpoint(newEndpoint({ eventTypes: ['user.created'], enabled: false }));
      for (let i = 0; i < 20; i++) await user();
      const taken = await Promise.all([1, 2, 3, 4].map(() => ctx.store.fanOutWebhookEvents(T0, 3, (e) => e.id, randomUUID)));
      let more = 0;
      while ((more = await ctx.store.fanOutWebhookEvents(T0, 100, (e) => e.id, randomUUID)) > 0) taken.push(more);
      expect(taken.reduce((x, y) => x + y, 0)).toBe(20);
      for (const endpoint of [a, b]) {
        const { deliveries } = await ctx.store.listWebhookDeliveries(endpoint.id, { limit: 100 });
        expect(deliveries).toHaveLength(20);
        expect(new Set(deliveries.map((d) => d.eventId)).size).toBe(20);
        expect(deliveries.every((d) => d.payload === d.eventId && d.status === 'pending' && d.nextAttemptAt === T0)).toBe(true);
      }
    });

    it('claims each due delivery once, again after its lease runs out, and records attempts', async () => {
      const e = await ctx.store.createWebhookEndpoint(newEndpoint({ eventTypes: ['user.created'] }));
      for (let i = 0; i < 10; i++) await ctx.store.enqueueWebhookDelivery({ id: randomUUID(), endpointId: e.id, eventId: `evt_${i}`, eventType: 'user.created', payload: '{}', createdAt: T0 });
      const claims = await Promise.all([1, 2, 3].map(() => ctx.store.claimWebhookDeliveries(T0, T0 + 15 * SECOND, 4)));
      const ids = claims.flat().map((d) => d.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toHaveLength(10);
      expect(claims.flat()[0]).toMatchObject({ url: e.url, secret: 'sealed' });
      expect(await ctx.store.claimWebhookDeliveries(T0 + SECOND, T0 + 20 * SECOND, 100)).toEqual([]);
      const again = await ctx.store.claimWebhookDeliveries(T0 + 15 * SECOND, T0 + 30 * SECOND, 100);
      expect(again).toHaveLength(10);

      const [ok, failing, last] = again;
      await ctx.store.recordWebhookAttempt({ deliveryId: ok!.id, endpointId: e.id, now: T0 + 16 * SECOND, ok: true, statusCode: 204, error: null, latencyMs: 12, retryAt: null, disableAfterMs: DAY });
      await ctx.store.recordWebhookAttempt({ deliveryId: failing!.id, endpointId: e.id, now: T0 + 16 * SECOND, ok: false, statusCode: 500, error: 'HTTP 500', latencyMs: 3, retryAt: T0 + 21 * SECOND, disableAfterMs: DAY });
      expect(await ctx.store.findWebhookDelivery(e.id, ok!.id)).toMatchObject({ status: 'succeeded', attempts: 1, lastStatusCode: 204, latencyMs: 12, deliveredAt: T0 + 16 * SECOND, nextAttemptAt: null });
      expect(await ctx.store.findWebhookDelivery(e.id, failing!.id)).toMatchObject({ status: 'failed', attempts: 1, lastError: 'HTTP 500', nextAttemptAt: T0 + 21 * SECOND });
      expect((await ctx.store.findWebhookEndpoint(e.id))!.failingSince).toBe(T0 + 16 * SECOND);
      // A failure a day after the first failure (no success between) disables the endpoint.
      await ctx.store.recordWebhookAttempt({ deliveryId: last!.id, endpointId: e.id, now: T0 + 16 * SECOND + DAY, ok: false, statusCode: null, error: 'ECONNREFUSED', latencyMs: 1, retryAt: null, disableAfterMs: DAY });
      expect(await ctx.store.findWebhookDelivery(e.id, last!.id)).toMatchObject({ status: 'exhausted', nextAttemptAt: null });
      const disabled = (await ctx.store.findWebhookEndpoint(e.id))!;
      expect(disabled.enabled).toBe(false);
      expect(disabled.disabledReason).toContain('ECONNREFUSED');
      expect(await ctx.store.claimWebhookDeliveries(T0 + 2 * DAY, T0 + 3 * DAY, 100)).toEqual([]);
      const enabled = await ctx.store.updateWebhookEndpoint(e.id, { enabled: true }, T0 + 2 * DAY);
      expect(enabled).toMatchObject({ enabled: true, disabledReason: null, failingSince: null });

      const page1 = await ctx.store.listWebhookDeliveries(e.id, { limit: 4 });
      const page2 = await ctx.store.listWebhookDeliveries(e.id, { limit: 100, cursor: page1.nextCursor });
      expect(page1.deliveries.length + page2.deliveries.length).toBe(10);
      expect(page2.nextCursor).toBeNull();
      expect((await ctx.store.listWebhookDeliveries(e.id, { limit: 100, status: 'succeeded' })).deliveries.map((d) => d.id)).toEqual([ok!.id]);

      // The retention purge takes finished deliveries (succeeded, exhausted) created before the cut,
      // never one still being retried (failed, pending), and at most `limit` per call.
      expect(await ctx.store.purgeWebhookDeliveries(T0, 100)).toBe(0);
      expect(await ctx.store.purgeWebhookDeliveries(T0 + 1, 1)).toBe(1);
      expect(await ctx.store.purgeWebhookDeliveries(T0 + 1, 100)).toBe(1);
      expect(await ctx.store.findWebhookDelivery(e.id, ok!.id)).toBeNull();
      expect(await ctx.store.findWebhookDelivery(e.id, last!.id)).toBeNull();
      expect(await ctx.store.findWebhookDelivery(e.id, failing!.id)).toMatchObject({ status: 'failed' });
      expect((await ctx.store.listWebhookDeliveries(e.id, { limit: 100 })).deliveries).toHaveLength(8);
    });
  });
}
