import { generateKeyPair, type KeyObject } from 'node:crypto';
import type { SigningAlgorithm } from '../config.js';

/** A key pair for one of the asymmetric algorithms, as node:crypto makes it. */
export interface KeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

let ahead: { alg: SigningAlgorithm; pair: Promise<KeyPair> } | undefined;

function newKeyPair(alg: Exclude<SigningAlgorithm, 'HS256'>): Promise<KeyPair> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKey: KeyObject, privateKey: KeyObject) => (err ? reject(err) : resolve({ publicKey, privateKey }));
    if (alg === 'RS256') generateKeyPair('rsa', { modulusLength: 2048 }, done);
    else if (alg === 'ES256') generateKeyPair('ec', { namedCurve: 'P-256' }, done);
    else generateKeyPair('ed25519', {}, done);
  });
}

/**
 * Starts making a key pair for `alg` on libuv's thread pool, for the next `generateSigningKey`
 * of that algorithm in this process. `latchkey serve` calls it first thing when the database is
 * certainly new (an RSA key takes 100-400 ms, and the pair is then ready before the server has
 * loaded). It never writes anything: a pair nobody takes is dropped with the process.
 *
 * @example
 * if (!existsSync(databaseFile)) generateKeyPairAhead('RS256');
 */
export function generateKeyPairAhead(alg: SigningAlgorithm): void {
  if (alg === 'HS256' || ahead) return;
  const pair = newKeyPair(alg);
  pair.catch(() => undefined); // a failure surfaces where the pair is taken
  ahead = { alg, pair };
}

/** The pair started by `generateKeyPairAhead` for `alg`, once; undefined otherwise. */
export function takeKeyPairAhead(alg: SigningAlgorithm): Promise<KeyPair> | undefined {
  if (!ahead || ahead.alg !== alg) return undefined;
  const { pair } = ahead;
  ahead = undefined;
  return pair;
}
