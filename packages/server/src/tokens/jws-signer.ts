import { createHmac, createSecretKey, KeyObject, sign, type webcrypto } from 'node:crypto';
import type { SigningKey } from './keys.js';

/**
 * Signs compact JWS (RFC 7515) with one signing key, through node:crypto directly.
 *
 * Why not jose's `SignJWT` on the hot path: it signs through WebCrypto, whose per-call argument
 * normalisation, key re-checks and promise plumbing cost about 45 µs of event-loop time per
 * token in front of the signature itself (bench scenario (c): a refresh is mostly one RS256
 * signature). Here the protected header is encoded once per key, the key is a `KeyObject`
 * converted once, and the signature runs with node:crypto's asynchronous `sign`, which does the
 * same OpenSSL operation on libuv's thread pool. Nothing cryptographic is implemented here:
 * the JWS compact form is `BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(signature)`,
 * and jose (and the tests' independent verifiers) check what this produces.
 *
 * @example
 * const signer = new JwsSigner(keys.signingKey, { typ: 'at+jwt' });
 * const jwt = await signer.sign(JSON.stringify({ sub: 'u1', exp: 1700000900 }));
 */
export class JwsSigner {
  /** `BASE64URL(protected header) + '.'`: the same for every token of this key. */
  private readonly headerPrefix: string;
  private readonly signature: (input: Buffer) => Promise<Buffer> | Buffer;

  constructor(
    readonly key: SigningKey,
    extraHeader: { typ: string },
  ) {
    // The member order jose's SignJWT produced: alg, kid, then the rest.
    this.headerPrefix = Buffer.from(JSON.stringify({ alg: key.alg, kid: key.kid, ...extraHeader })).toString('base64url') + '.';
    this.signature = signatureFunction(key);
  }

  /** Signs the JSON text of a claims set; resolves to the compact JWS. */
  async sign(payloadJson: string): Promise<string> {
    const input = this.headerPrefix + Buffer.from(payloadJson).toString('base64url');
    const signature = await this.signature(Buffer.from(input, 'latin1'));
    return input + '.' + signature.toString('base64url');
  }
}

function asKeyObject(key: SigningKey['key']): KeyObject {
  if (key instanceof Uint8Array) return createSecretKey(key);
  // jose returns WebCrypto keys from importJWK; node:crypto takes them back as KeyObjects.
  return KeyObject.from(key as webcrypto.CryptoKey);
}

/** Resolves to a signature, via libuv's thread pool for the asymmetric algorithms. */
function signAsync(algorithm: string | null, key: KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' }) {
  return (input: Buffer): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      sign(algorithm, input, key, (err, signature) => (err ? reject(err) : resolve(signature)));
    });
}

function signatureFunction(signingKey: SigningKey): (input: Buffer) => Promise<Buffer> | Buffer {
  const key = asKeyObject(signingKey.key);
  switch (signingKey.alg) {
    case 'RS256':
      // RSASSA-PKCS1-v1_5 with SHA-256: node:crypto's default padding for RSA keys.
      if (key.asymmetricKeyType !== 'rsa') break;
      return signAsync('sha256', key);
    case 'ES256':
      // JWS wants the raw r||s form (RFC 7518 §3.4), not DER.
      if (key.asymmetricKeyType !== 'ec') break;
      return signAsync('sha256', { key, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA':
      if (key.asymmetricKeyType !== 'ed25519') break;
      return signAsync(null, key);
    case 'HS256':
      // An HMAC costs about a microsecond: a trip to the thread pool would cost more.
      if (key.type !== 'secret') break;
      return (input) => createHmac('sha256', key).update(input).digest();
  }
  throw new Error(`signing key ${signingKey.kid} does not fit algorithm ${signingKey.alg}`);
}
