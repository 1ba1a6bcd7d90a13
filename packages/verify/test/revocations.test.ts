import express from 'express';
import Fastify from 'fastify';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireAuth } from '../src/express.js';
import latchkeyVerify from '../src/fastify.js';
import { createVerifier, InvalidTokenError, RevocationsUnavailableError, type Verifier, type VerifierOptions } from '../src/index.js';
import { RevocationFollower } from '../src/revocations.js';
import { eventually, startFeedServer, type FeedServer } from './feed-server.js';
import { AUDIENCE, ISSUER, makeKey, NOW, NOW_S, signToken, startJwksServer, type JwksServer, type TestKey } from './support.js';

let rsa: TestKey;
let jwks: JwksServer;
let feed: FeedServer;
let now = NOW;
const open: Verifier[] = [];

const EXP = NOW_S + 960;

beforeAll(async () => {
  rsa = await makeKey('RS256');
  jwks = await startJwksServer([rsa.jwk]);
});

afterAll(async () => {
  await jwks.close();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((v) => v.close()));
  await feed?.close();
  now = NOW;
});

function follow(extra: Partial<VerifierOptions['revocations']> = {}, logs: string[] = []): Verifier {
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUrl: jwks.url,
    clock: () => now,
    revocations: { url: feed.url, token: feed.token, reconnectMaxMs: 200, log: (m) => logs.push(m), ...extra },
  });
  open.push(verifier);
  return verifier;
}

const token = (sid: string, sub = 'user-1', iat = NOW_S) => signToken(rsa, { claims: { sid, sub, iat } });

async function refusedAs(verifier: Verifier, t: string): Promise<string> {
  try {
    await verifier.verify(t);
    return 'accepted';
  } catch (err) {
    if (err instanceof InvalidTokenError) return err.reason;
    if (err instanceof RevocationsUnavailableError) return err.code;
    throw err;
  }
}

describe('following the revocation feed', () => {
  it('pages the backlog to the end, then refuses tokens of revoked sessions and of users revoked after their iat', async () => {
    feed = await startFeedServer();
    feed.pageSize = 2;
    feed.entries.push(
      { type: 'session', sid: 's-a', exp: EXP },
      { type: 'session', sid: 's-b', exp: EXP },
      { type: 'user', sub: 'bob', before: NOW_S + 1, exp: EXP },
      { type: 'session', sid: 's-c', exp: EXP },
      { type: 'future-kind', x: 1 } as never,
    );
    const verifier = follow();
    await verifier.revocationsReady();
    expect(feed.pageAfters).toEqual(['', '2', '4']);
    expect(await refusedAs(verifier, await token('s-a'))).toBe('revoked');
    expect(await refusedAs(verifier, await token('s-c'))).toBe('revoked');
    expect(await refusedAs(verifier, await token('s-live'))).toBe('accepted');
    // bob's tokens issued before `before` are void, those issued since are not.
    expect(await refusedAs(verifier, await token('s-bob1', 'bob', NOW_S))).toBe('revoked');
    expect(await refusedAs(verifier, await token('s-bob2', 'bob', NOW_S + 1))).toBe('accepted');
    expect(verifier.stats.revocations).toMatchObject({ revokedSessions: 3, revokedUsers: 1 });
    // The stream then resumes from the last page's cursor.
    await eventually('the stream is open', () => feed.openStreams() === 1);
    expect(feed.streamResumes).toEqual(['5']);
  });

  it('a live entry refuses a token that was accepted (and cached) before', async () => {
    feed = await startFeedServer();
    const verifier = follow();
    await verifier.revocationsReady();
    await eventually('the stream is open', () => feed.openStreams() === 1);
    const t = await token('s-live');
    expect(await refusedAs(verifier, t)).toBe('accepted');
    expect(verifier.peek(t)).toBeDefined();
    feed.publish({ type: 'session', sid: 's-live', exp: EXP });
    await eventually('the cached token is refused', () => verifier.peek(t) === undefined);
    expect(await refusedAs(verifier, t)).toBe('revoked');
  });

  it('after a disconnection it reconnects with Last-Event-ID and gets what it missed', async () => {
    feed = await startFeedServer();
    const verifier = follow();
    await verifier.revocationsReady();
    await eventually('the stream is open', () => feed.openStreams() === 1);
    const cursor = feed.publish({ type: 'session', sid: 's-1', exp: EXP });
    await eventually('s-1 applied', () => verifier.stats.revocations!.revokedSessions === 1);
    feed.dropStreams();
    feed.appendSilently({ type: 'session', sid: 's-missed', exp: EXP });
    await eventually('reconnected', () => feed.streamResumes.length === 2 && feed.openStreams() === 1);
    expect(feed.streamResumes[1]).toBe(cursor);
    await eventually('the missed entry applied', () => verifier.stats.revocations!.revokedSessions === 2);
    expect(await refusedAs(verifier, await token('s-missed'))).toBe('revoked');
  });

  it('an event cut off before its end is asked for again: the cursor only moves past complete events', async () => {
    feed = await startFeedServer();
    const verifier = follow();
    await verifier.revocationsReady();
    await eventually('the stream is open', () => feed.openStreams() === 1);
    const cursor = feed.publish({ type: 'session', sid: 's-1', exp: EXP });
    await eventually('s-1 applied', () => verifier.stats.revocations!.revokedSessions === 1);
    feed.cutStreamsMidEvent({ type: 'session', sid: 's-cut', exp: EXP });
    await eventually('reconnected', () => feed.streamResumes.length === 2);
    expect(feed.streamResumes[1]).toBe(cursor);
    await eventually('the cut entry applied', () => verifier.stats.revocations!.revokedSessions === 2);
  });

  it("'keep': while the feed is down it keeps verifying with what it knows, and logs the outage once", async () => {
    feed = await startFeedServer();
    feed.entries.push({ type: 'session', sid: 's-gone', exp: EXP });
    const logs: string[] = [];
    const verifier = follow({}, logs);
    await verifier.revocationsReady();
    await eventually('the stream is open', () => feed.openStreams() === 1);
    feed.failWith = 503;
    feed.dropStreams();
    let failed = 0;
    feed.onFailure = () => failed++;
    await eventually('three failed reconnections', () => failed >= 3);
    now += 600_000; // far past any refuseAfterSeconds, still before the tokens' exp: nothing changes under 'keep'
    expect(await refusedAs(verifier, await token('s-live'))).toBe('accepted');
    expect(await refusedAs(verifier, await token('s-gone'))).toBe('revoked');
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/revocation feed unavailable .*503.*verifying with the revocations already known/);
    expect(logs[0]).not.toContain(feed.token);
    feed.failWith = undefined;
    await eventually('reconnected', () => feed.openStreams() === 1);
    await eventually('recovery logged', () => logs.length === 2);
    expect(logs[1]).toMatch(/reachable again/);
  });

  it('refuseAfterSeconds: 503 until the backlog is read, then again once the last contact is older than N s; a heartbeat counts', async () => {
    feed = await startFeedServer();
    feed.failWith = 503;
    const verifier = follow({ onFeedUnavailable: { refuseAfterSeconds: 30 } });
    const t = await token('s-live');
    expect(await refusedAs(verifier, t)).toBe('ERR_REVOCATIONS_UNAVAILABLE');
    feed.failWith = undefined;
    await verifier.revocationsReady();
    await eventually('the stream is open', () => feed.openStreams() === 1);
    expect(await refusedAs(verifier, t)).toBe('accepted');
    now += 31_000;
    expect(verifier.peek(t)).toBeUndefined();
    expect(await refusedAs(verifier, t)).toBe('ERR_REVOCATIONS_UNAVAILABLE');
    feed.heartbeat();
    await eventually('contact again', () => verifier.stats.revocations!.lastContactAt === now);
    expect(await refusedAs(verifier, t)).toBe('accepted');
  });

  it('a wrong credential is reported (never the token itself) and nothing is trusted from that feed', async () => {
    feed = await startFeedServer();
    const logs: string[] = [];
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUrl: jwks.url,
      clock: () => now,
      revocations: { url: feed.url, token: 'not-the-feed-token-0123456789abcdef', reconnectMaxMs: 200, log: (m) => logs.push(m) },
    });
    open.push(verifier);
    await eventually('logged', () => logs.length === 1);
    expect(logs[0]).toMatch(/answered 401: the feed refused the credential/);
    expect(logs[0]).not.toContain('not-the-feed-token');
    expect(feed.openStreams()).toBe(0);
  });

  it('close() ends the stream and the reconnection loop', async () => {
    feed = await startFeedServer();
    const verifier = follow();
    await verifier.revocationsReady();
    await eventually('the stream is open', () => feed.openStreams() === 1);
    await verifier.close();
    await eventually('the stream is closed', () => feed.openStreams() === 0);
    expect(verifier.stats.revocations!.connected).toBe(false);
    await verifier.close(); // idempotent
  });

  it('bad options fail at construction', () => {
    const base = { issuer: ISSUER, audience: AUDIENCE, jwksUrl: 'http://127.0.0.1:1/jwks' };
    expect(() => createVerifier({ ...base, revocations: { token: '' } })).toThrow(/revocations.token is required/);
    expect(() => createVerifier({ ...base, revocations: { token: 'x', onFeedUnavailable: { refuseAfterSeconds: 10 } } })).toThrow(/refuseAfterSeconds/);
    expect(() => createVerifier({ ...base, revocations: { token: 'x', onFeedUnavailable: 'drop' as never } })).toThrow(/onFeedUnavailable/);
    expect(() => createVerifier({ ...base, revocations: { token: 'x', url: 'ftp://feed' } })).toThrow(/revocations.url/);
  });
});

describe('the remembered revocations', () => {
  it('are dropped once their exp has passed, and stay bounded by what is live (100,000 entries)', () => {
    const follower = new RevocationFollower({ issuer: 'http://127.0.0.1:1', token: 'x', clock: () => NOW, fetch: () => new Promise(() => undefined), log: () => undefined });
    try {
      for (let i = 0; i < 100_000; i++) follower.apply({ type: 'session', sid: `s-${i}`, exp: NOW_S + (i % 2 === 0 ? 10 : 1000), cursor: String(i) });
      follower.apply({ type: 'user', sub: 'u', before: NOW_S, exp: NOW_S + 10, cursor: 'x' });
      follower.apply({ type: 'user', sub: 'u', before: NOW_S - 5, exp: NOW_S + 5, cursor: 'y' }); // older: changes nothing
      expect(follower.stats).toMatchObject({ revokedSessions: 100_000, revokedUsers: 1 });
      follower.sweep(NOW_S + 10);
      expect(follower.stats).toMatchObject({ revokedSessions: 100_000, revokedUsers: 1 });
      follower.sweep(NOW_S + 11);
      expect(follower.stats).toMatchObject({ revokedSessions: 50_000, revokedUsers: 0 });
      follower.sweep(NOW_S + 1001);
      expect(follower.stats).toMatchObject({ revokedSessions: 0, revokedUsers: 0 });
    } finally {
      void follower.close();
    }
  });
});

describe('HTTP helpers with a revocation feed', () => {
  it('Fastify: a revoked token gets 401 invalid_token "revoked"; the plugin stops following when the app closes', async () => {
    feed = await startFeedServer();
    feed.entries.push({ type: 'session', sid: 's-gone', exp: EXP });
    const app = Fastify();
    await app.register(latchkeyVerify, {
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUrl: jwks.url,
      clock: () => now,
      revocations: { url: feed.url, token: feed.token, reconnectMaxMs: 200 },
    });
    app.get('/orders', { config: { auth: true } }, async (request) => ({ sub: request.auth!.sub }));
    await app.ready();
    await app.latchkeyVerifier.revocationsReady();
    const live = await app.inject({ url: '/orders', headers: { authorization: `Bearer ${await token('s-live')}` } });
    expect(live.statusCode).toBe(200);
    const gone = await app.inject({ url: '/orders', headers: { authorization: `Bearer ${await token('s-gone')}` } });
    expect(gone.statusCode).toBe(401);
    expect(gone.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="The access token has been revoked"');
    expect(gone.json()).toMatchObject({ code: 'INVALID_TOKEN', detail: 'The access token has been revoked.' });
    await eventually('the stream is open', () => feed.openStreams() === 1);
    await app.close();
    await eventually('the stream is closed', () => feed.openStreams() === 0);
  });

  it('Fastify: refuseAfterSeconds answers 503 with Retry-After while the feed is silent', async () => {
    feed = await startFeedServer();
    feed.failWith = 503;
    const app = Fastify({ logger: false });
    await app.register(latchkeyVerify, {
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUrl: jwks.url,
      clock: () => now,
      revocations: { url: feed.url, token: feed.token, reconnectMaxMs: 200, onFeedUnavailable: { refuseAfterSeconds: 30 } },
    });
    app.get('/orders', { config: { auth: true } }, async () => ({ ok: true }));
    try {
      const res = await app.inject({ url: '/orders', headers: { authorization: `Bearer ${await token('s-live')}` } });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE', detail: 'The revocation feed cannot be reached; retry shortly.' });
    } finally {
      await app.close();
    }
  });

  it('Express: a revoked token gets 401 invalid_token "revoked", also once cached', async () => {
    feed = await startFeedServer();
    const verifier = follow();
    const app = express();
    app.get('/orders', requireAuth(verifier), (req, res) => {
      res.json({ sub: req.auth!.sub });
    });
    const server: Server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await verifier.revocationsReady();
      await eventually('the stream is open', () => feed.openStreams() === 1);
      const t = await token('s-soon');
      const headers = { authorization: `Bearer ${t}` };
      expect((await fetch(`${base}/orders`, { headers })).status).toBe(200);
      feed.publish({ type: 'session', sid: 's-soon', exp: EXP });
      await eventually('refused', async () => (await fetch(`${base}/orders`, { headers })).status === 401);
      const res = await fetch(`${base}/orders`, { headers });
      expect(res.headers.get('www-authenticate')).toContain('error_description="The access token has been revoked"');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
