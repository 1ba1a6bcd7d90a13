/**
 * Encryption of secrets at rest (the signing keys' private parts today; TOTP, client and webhook
 * secrets later) under the operator's KEY_ENCRYPTION_KEY: AES-256-GCM from node:crypto, a random
 * 96-bit IV per value, and the value's context (e.g. `signing_keys:<kid>`) as additional data, so
 * that a sealed value copied onto another row does not open there.
 *
 * Envelope, one printable string that fits the existing text columns:
 *   `lk1:<key id>:<base64url(iv | ciphertext | tag)>`
 * `lk1` versions the format; the key id (8 bytes of SHA-256 over a label and the key, base64url)
 * tells which key sealed the value, so that a previous key can still open it during a rotation
 * and a wrong key is named as such instead of failing as "altered".
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const PREFIX = 'lk1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** `lk1:` + 11-character key id + `:` + base64url payload. */
const ENVELOPE = /^lk1:([A-Za-z0-9_-]{11}):([A-Za-z0-9_-]+)$/;

/**
 * A value cannot be opened: no key, another key, or an altered value. The message is a phrase
 * for the caller to prefix with what the value is ("signing key <kid>: ..."); it never holds the value.
 */
export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
  constructor(
    readonly reason: 'no-key' | 'unknown-key' | 'altered',
    message: string,
  ) {
    super(message);
  }
}

/** True for a value in the sealed envelope (any key); plaintext JSON or PEM never starts with `lk1:`. */
export function isSealed(value: string): boolean {
  return value.startsWith(PREFIX);
}

/** The key id of a sealed value, or null. */
export function sealedKeyId(value: string): string | null {
  return ENVELOPE.exec(value)?.[1] ?? null;
}

/** The public id of a 32-byte key: reveals nothing of it, names it in envelopes and messages. */
export function keyIdOf(key: Uint8Array): string {
  return createHash('sha256').update('latchkey secret-box key id\0').update(key).digest().subarray(0, 8).toString('base64url');
}

/**
 * Parses a 32-byte key written as base64, base64url or hex (what `openssl rand -base64 32` or
 * `openssl rand -hex 32` print); null when it is not one. Never echoes the input.
 *
 * @example
 * parseKeyEncryptionKey(randomBytes(32).toString('base64'))!.length; // 32
 */
export function parseKeyEncryptionKey(raw: string): Buffer | null {
  const text = raw.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(text) || /^[A-Za-z0-9_-]{43}=?$/.test(text)) {
    const key = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    return key.length === 32 ? key : null;
  }
  return null;
}

/**
 * Seals with the current key (when there is one) and opens with the current or a previous key.
 * Without a current key it only opens (with the previous keys): the way to turn encryption off.
 *
 * @example
 * const box = new SecretBox(key, []);
 * const sealed = box.seal('{"d":"..."}', 'signing_keys:kid-1');
 * box.open(sealed, 'signing_keys:kid-1'); // '{"d":"..."}'
 */
export class SecretBox {
  /** Id of the sealing key; null when values are stored in plaintext. */
  readonly currentKeyId: string | null;
  private readonly keys = new Map<string, Buffer>();
  private readonly current: Buffer | null;

  constructor(current: Uint8Array | null, previous: readonly Uint8Array[] = []) {
    this.current = current ? Buffer.from(current) : null;
    this.currentKeyId = current ? keyIdOf(current) : null;
    for (const key of [...previous, ...(current ? [current] : [])]) this.keys.set(keyIdOf(key), Buffer.from(key));
  }

  /** The stored form of `plaintext`: sealed under the current key, or the plaintext itself without one. */
  store(plaintext: string, context: string): string {
    return this.current ? this.seal(plaintext, context) : plaintext;
  }

  /** True when `stored` is not in the form `store` would write now (plaintext to seal, another key, or sealed to unseal). */
  needsRewrite(stored: string): boolean {
    if (!isSealed(stored)) return this.current !== null;
    return sealedKeyId(stored) !== this.currentKeyId;
  }

  seal(plaintext: string, context: string): string {
    if (!this.current) throw new SecretBoxError('no-key', 'no KEY_ENCRYPTION_KEY to seal with');
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${PREFIX}${this.currentKeyId}:${body.toString('base64url')}`;
  }

  /** The plaintext of a stored value: sealed values are opened, anything else is returned as is. */
  open(stored: string, context: string): string {
    if (!isSealed(stored)) return stored;
    const m = ENVELOPE.exec(stored);
    if (!m) throw new SecretBoxError('altered', 'not a valid lk1 envelope: the stored value was altered');
    const keyId = m[1]!;
    const key = this.keys.get(keyId);
    if (!key) {
      if (this.keys.size === 0) {
        throw new SecretBoxError(
          'no-key',
          `encrypted at rest (key id ${keyId}) but KEY_ENCRYPTION_KEY is not set: set it to the key this was encrypted with`,
        );
      }
      const have = [...this.keys.keys()].join(', ');
      throw new SecretBoxError(
        'unknown-key',
        `encrypted with another KEY_ENCRYPTION_KEY (key id ${keyId}; this server has ${have}): set KEY_ENCRYPTION_KEY ` +
          'to the key this was encrypted with (during a rotation: that key as KEY_ENCRYPTION_KEY_PREVIOUS)',
      );
    }
    const body = Buffer.from(m[2]!, 'base64url');
    if (body.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError('altered', 'truncated: the stored value was altered');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('altered', `does not decrypt with KEY_ENCRYPTION_KEY (key id ${keyId}): the stored value was altered or moved`);
    }
  }
}
