/**
 * A software WebAuthn authenticator for tests: real ES256 keys (node:crypto), real
 * authenticatorData, clientDataJSON and signatures, and an attestation object CBOR-encoded with
 * fmt 'none', so the server's verification library checks them end to end. It plays the
 * browser's part too (clientDataJSON's origin), and every field can be made wrong on purpose.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

/** The members of creation/request options the authenticator reads. */
export interface CreationOptions {
  challenge: string;
  rp: { id?: string; name: string };
  user: { id: string; name: string; displayName: string };
  excludeCredentials?: Array<{ id: string }>;
}
export interface RequestOptions {
  challenge: string;
  rpId?: string;
  allowCredentials?: Array<{ id: string }>;
}

export interface RegistrationResponse {
  id: string;
  rawId: string;
  type: 'public-key';
  response: { clientDataJSON: string; attestationObject: string; transports: string[] };
  clientExtensionResults: Record<string, never>;
  authenticatorAttachment: string;
}

export interface AssertionResponse {
  id: string;
  rawId: string;
  type: 'public-key';
  response: { clientDataJSON: string; authenticatorData: string; signature: string; userHandle?: string };
  clientExtensionResults: Record<string, never>;
  authenticatorAttachment: string;
}

interface StoredCredential {
  id: string;
  privateKey: KeyObject;
  userHandle: string;
  rpId: string;
  counter: number;
}

export interface AuthenticatorOptions {
  /** The origin the "browser" puts into clientDataJSON. */
  origin: string;
  /** Backup eligible and backed up: a synced passkey (amr swk); else device-bound (hwk). */
  synced?: boolean;
  /** Whether it verifies the user (UV flag). */
  userVerification?: boolean;
  /** Keeps a signature counter (else always 0, as synced passkeys do). */
  counter?: boolean;
}

/** What a test may falsify in one ceremony. */
export interface Tamper {
  origin?: string;
  rpId?: string;
  challenge?: string;
  type?: string;
  /** Sign with this counter instead of the next one. */
  counter?: number;
  /** Use this credential (of this authenticator) whatever the options allow. */
  credentialId?: string;
  userVerification?: boolean;
}

const b64url = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string): Buffer => createHash('sha256').update(b).digest();

export class SoftwareAuthenticator {
  readonly credentials = new Map<string, StoredCredential>();

  constructor(readonly options: AuthenticatorOptions) {}

  /** navigator.credentials.create(): a new ES256 credential, its attestation fmt 'none'. */
  create(options: CreationOptions, tamper: Tamper = {}): RegistrationResponse {
    const rpId = tamper.rpId ?? options.rp.id!;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const credentialId = new Uint8Array(sha256(`${Math.random()}${Date.now()}`)); // 32 bytes, unique enough
    const id = b64url(credentialId);
    // COSE_Key (RFC 9053): kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y.
    const cose = cbor(
      new Map<number, unknown>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const attested = Buffer.concat([Buffer.alloc(16), u16(credentialId.length), credentialId, cose]);
    const authData = Buffer.concat([sha256(rpId), Buffer.of(this.flags(tamper) | 0x40), u32(0), attested]);
    const clientDataJSON = this.clientData('webauthn.create', options.challenge, tamper);
    const attestationObject = cbor(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
    this.credentials.set(id, { id, privateKey, userHandle: options.user.id, rpId: options.rp.id!, counter: 0 });
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: { clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['internal', 'hybrid'] },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** navigator.credentials.get(): an assertion of one of its credentials. */
  get(options: RequestOptions, tamper: Tamper = {}): AssertionResponse {
    const allowed = options.allowCredentials?.map((c) => c.id) ?? [];
    const id = tamper.credentialId ?? [...this.credentials.keys()].find((k) => allowed.length === 0 || allowed.includes(k));
    const cred = id === undefined ? undefined : this.credentials.get(id);
    if (!cred) throw new Error('test authenticator: no credential for these options');
    if (this.options.counter !== false) cred.counter += 1;
    const counter = tamper.counter ?? (this.options.counter === false ? 0 : cred.counter);
    const rpId = tamper.rpId ?? options.rpId ?? cred.rpId;
    const authData = Buffer.concat([sha256(rpId), Buffer.of(this.flags(tamper)), u32(counter)]);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, tamper);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), cred.privateKey);
    return {
      id: cred.id,
      rawId: cred.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: cred.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  private flags(tamper: Tamper): number {
    const uv = tamper.userVerification ?? this.options.userVerification ?? true;
    // UP always; UV; BE and BS together for a synced passkey.
    return 0x01 | (uv ? 0x04 : 0) | (this.options.synced ? 0x18 : 0);
  }

  private clientData(type: string, challenge: string, tamper: Tamper): Buffer {
    return Buffer.from(
      JSON.stringify({ type: tamper.type ?? type, challenge: tamper.challenge ?? challenge, origin: tamper.origin ?? this.options.origin, crossOrigin: false }),
    );
  }
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** A CBOR (RFC 8949) encoder for what attestation objects and COSE keys use: integers, byte and text strings, maps. */
export function cbor(value: unknown): Buffer {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error('cbor: integers only');
    return value >= 0 ? head(0, value) : head(1, -1 - value);
  }
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  if (value instanceof Map) {
    const parts = [head(5, value.size)];
    for (const [k, v] of value) parts.push(cbor(k), cbor(v));
    return Buffer.concat(parts);
  }
  throw new Error(`cbor: cannot encode ${typeof value}`);
}

function head(major: number, n: number): Buffer {
  const m = major << 5;
  if (n < 24) return Buffer.of(m | n);
  if (n < 0x100) return Buffer.of(m | 24, n);
  if (n < 0x10000) return Buffer.concat([Buffer.of(m | 25), u16(n)]);
  return Buffer.concat([Buffer.of(m | 26), u32(n)]);
}
