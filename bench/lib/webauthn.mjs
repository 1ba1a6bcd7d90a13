// A software WebAuthn authenticator for the benchmarks: the same construction as the tests'
// (packages/server/test/support/webauthn-authenticator.ts): an ES256 key from node:crypto,
// authenticatorData, clientDataJSON, an attestation object in CBOR with fmt 'none'. It keeps no
// signature counter (0 each time, as synced passkeys do), so pre-made assertions can be sent in
// any order.
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

const b64url = (b) => Buffer.from(b).toString('base64url');
const sha256 = (b) => createHash('sha256').update(b).digest();

function head(major, n) {
  const m = major << 5;
  if (n < 24) return Buffer.of(m | n);
  if (n < 0x100) return Buffer.of(m | 24, n);
  const b = Buffer.alloc(3);
  b[0] = m | 25;
  b.writeUInt16BE(n, 1);
  return b;
}

/** CBOR for integers, byte and text strings and maps: what an attestation object and a COSE key need. */
function cbor(v) {
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === 'string') return Buffer.concat([head(3, Buffer.byteLength(v)), Buffer.from(v)]);
  if (v instanceof Uint8Array) return Buffer.concat([head(2, v.length), v]);
  if (v instanceof Map) return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
  throw new Error(`cbor: ${typeof v}`);
}

export class BenchAuthenticator {
  /** @param {string} rpId */
  constructor(rpId) {
    this.rpId = rpId;
    this.credentials = [];
  }

  /** navigator.credentials.create() for `options` (the JSON creation options), from `origin`. */
  create(options, origin) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const rawId = randomBytes(32);
    const cose = cbor(new Map([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x, 'base64url')], [-3, Buffer.from(jwk.y, 'base64url')]]));
    const len = Buffer.alloc(2);
    len.writeUInt16BE(rawId.length);
    // UP, UV, BE, BS, AT; counter 0.
    const authData = Buffer.concat([sha256(this.rpId), Buffer.of(0x5d), Buffer.alloc(4), Buffer.alloc(16), len, rawId, cose]);
    const clientDataJSON = JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin, crossOrigin: false });
    const id = b64url(rawId);
    this.credentials.push({ id, privateKey, userHandle: options.user.id });
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        attestationObject: b64url(cbor(new Map([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]))),
        transports: ['internal'],
      },
      clientExtensionResults: {},
    };
  }

  /** navigator.credentials.get() for `options` (the JSON request options), from `origin`, with its first credential. */
  get(options, origin) {
    const cred = this.credentials[0];
    const authData = Buffer.concat([sha256(this.rpId), Buffer.of(0x1d), Buffer.alloc(4)]);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin, crossOrigin: false }));
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), cred.privateKey);
    return {
      id: cred.id,
      rawId: cred.id,
      type: 'public-key',
      response: { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature), userHandle: cred.userHandle },
      clientExtensionResults: {},
    };
  }
}
