import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Alg = 'RS256' | 'ES256' | 'EdDSA';

export interface TestKey {
  kid: string;
  alg: Alg;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** As published: public members plus kid, alg, use. */
  jwk: JWK;
}

/** A fresh key pair as Latchkey makes them: kid = RFC 7638 thumbprint. */
export async function makeKey(alg: Alg): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg === 'EdDSA' ? 'Ed25519' : alg, { extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub);
  return { kid, alg, privateKey, publicKey, jwk: { ...pub, kid, alg, use: 'sig' } };
}

/** A real HTTP server on 127.0.0.1 serving a JWKS that tests can change; it counts requests. */
export interface JwksServer {
  url: string;
  /** GET requests to the JWKS path so far. */
  hits: number;
  /** What the server publishes; replace to simulate rotation or revocation. */
  keys: JWK[];
  /** Answer with this status instead (e.g. 500) while set. */
  failWith: number | undefined;
  /** Close the connection without an answer for this many more requests. */
  dropNext: number;
  close(): Promise<void>;
}

export async function startJwksServer(keys: JWK[] = []): Promise<JwksServer> {
  const state = { hits: 0, keys, failWith: undefined as number | undefined, dropNext: 0 };
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/.well-known/jwks.json') {
      state.hits += 1;
      if (state.dropNext > 0) {
        state.dropNext -= 1;
        req.socket.destroy();
        return;
      }
      if (state.failWith !== undefined) {
        res.writeHead(state.failWith).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as JwksServer;
}

export const ISSUER = 'http://issuer.test';
export const AUDIENCE = 'latchkey';
/** The frozen "now" of the tests, ms. */
export const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
export const NOW_S = Math.floor(NOW / 1000);

export interface SignOptions {
  header?: Record<string, unknown>;
  claims?: JWTPayload;
  /** Claims to delete after defaults are applied. */
  omit?: string[];
}

/** Signs an access token shaped like Latchkey's (typ at+jwt, iss, aud, sub, sid, jti, iat, exp, roles). */
export async function signToken(key: TestKey, options: SignOptions = {}): Promise<string> {
  const payload: JWTPayload = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user-1',
    sid: 'session-1',
    jti: randomUUID(),
    iat: NOW_S,
    exp: NOW_S + 900,
    roles: ['user'],
    email_verified: true,
    ...options.claims,
  };
  for (const name of options.omit ?? []) delete payload[name];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...options.header })
    .sign(key.privateKey);
}

export function b64url(value: string | Uint8Array): string {
  return Buffer.from(value).toString('base64url');
}

export function decodePart(token: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Other spellings of one base64url segment that a lenient decoder (atob, Buffer) turns into the
 * same bytes: the last character with unused low bits set, `=` padding, whitespace inside.
 */
export function sameBytesSpellings(segment: string): string[] {
  const unused = [0, 0, 4, 2][segment.length % 4]!;
  const last = B64URL.indexOf(segment.at(-1)!);
  const twins: string[] = [];
  for (let low = 1; low < 1 << unused; low++) twins.push(segment.slice(0, -1) + B64URL[last | low]);
  const padding = '='.repeat((4 - (segment.length % 4)) % 4);
  if (padding) twins.push(segment + padding);
  twins.push(`${segment.slice(0, 8)} ${segment.slice(8)}`, `${segment.slice(0, 8)}\n${segment.slice(8)}`);
  const bytes = Buffer.from(segment, 'base64url');
  for (const twin of twins) {
    if (!Buffer.from(twin.replace(/[\s=]/g, ''), 'base64url').equals(bytes)) throw new Error('setup: not the same bytes');
  }
  return twins;
}
