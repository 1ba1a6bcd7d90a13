import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { isSealed, keyIdOf, parseKeyEncryptionKey, SecretBox, SecretBoxError, sealedKeyId } from '../../src/lib/secret-box.js';

const K1 = randomBytes(32);
const K2 = randomBytes(32);
const SECRET = '{"kty":"EC","d":"very-private-scalar"}';

function failure(fn: () => unknown): SecretBoxError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SecretBoxError) return err;
    throw err;
  }
  throw new Error('did not throw');
}

describe('KEY_ENCRYPTION_KEY parsing', () => {
  it.each([
    ['base64 (openssl rand -base64 32)', K1.toString('base64')],
    ['base64 without padding', K1.toString('base64').replace(/=$/, '')],
    ['base64url', K1.toString('base64url')],
    ['hex (openssl rand -hex 32)', K1.toString('hex')],
    ['hex, upper case, with surrounding spaces', ` ${K1.toString('hex').toUpperCase()}\n`],
  ])('reads %s', (_name, text) => {
    expect(parseKeyEncryptionKey(text)).toEqual(K1);
  });

  it.each([
    ['16 bytes', randomBytes(16).toString('base64')],
    ['48 bytes', randomBytes(48).toString('base64')],
    ['a passphrase', 'correct horse battery staple correct horse!!'],
    ['63 hex digits', K1.toString('hex').slice(1)],
    ['empty', ''],
  ])('refuses %s', (_name, text) => {
    expect(parseKeyEncryptionKey(text)).toBeNull();
  });

  it('config: a bad value stops start-up naming the variable, never echoing the value', () => {
    const bad = 'not-a-key-but-a-secret-looking-value';
    for (const variable of ['KEY_ENCRYPTION_KEY', 'KEY_ENCRYPTION_KEY_PREVIOUS']) {
      let error: unknown;
      try {
        loadConfig({ [variable]: bad });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe(variable);
      expect((error as ConfigError).message).toContain('openssl rand -base64 32');
      expect((error as ConfigError).message).not.toContain(bad);
    }
    const config = loadConfig({ KEY_ENCRYPTION_KEY: K1.toString('base64'), KEY_ENCRYPTION_KEY_PREVIOUS: `${K2.toString('hex')}, ${K1.toString('base64url')}` });
    expect(Buffer.from(config.tokens.keyEncryptionKey!)).toEqual(K1);
    expect(config.tokens.keyEncryptionKeyPrevious.map((k) => Buffer.from(k))).toEqual([K2, K1]);
    expect(loadConfig({}).tokens.keyEncryptionKey).toBeNull();
  });
});

describe('SecretBox', () => {
  const box = new SecretBox(K1);

  it('seals into a versioned envelope naming the key, and opens it again', () => {
    const sealed = box.seal(SECRET, 'signing_keys:a');
    expect(sealed).toMatch(/^lk1:[A-Za-z0-9_-]{11}:[A-Za-z0-9_-]+$/);
    expect(isSealed(sealed)).toBe(true);
    expect(sealedKeyId(sealed)).toBe(keyIdOf(K1));
    expect(sealed).not.toContain('very-private-scalar');
    expect(Buffer.from(sealed.split(':')[2]!, 'base64url').toString('latin1')).not.toContain('very-private');
    expect(box.open(sealed, 'signing_keys:a')).toBe(SECRET);
  });

  it('uses a fresh IV every time: the same secret seals differently', () => {
    expect(box.seal(SECRET, 'c')).not.toBe(box.seal(SECRET, 'c'));
  });

  it('passes plaintext through open, and stores plaintext without a current key', () => {
    expect(box.open(SECRET, 'x')).toBe(SECRET);
    const plain = new SecretBox(null);
    expect(plain.store(SECRET, 'x')).toBe(SECRET);
    expect(plain.needsRewrite(SECRET)).toBe(false);
    expect(box.needsRewrite(SECRET)).toBe(true);
    expect(box.needsRewrite(box.seal(SECRET, 'x'))).toBe(false);
  });

  it('binds the value to its context: a sealed value moved to another row does not open', () => {
    const sealed = box.seal(SECRET, 'signing_keys:a');
    expect(failure(() => box.open(sealed, 'signing_keys:b')).reason).toBe('altered');
  });

  it('detects any altered byte', () => {
    const sealed = box.seal(SECRET, 'c');
    const [prefix, id, body] = sealed.split(':') as [string, string, string];
    const bytes = Buffer.from(body, 'base64url');
    for (const at of [0, 12, bytes.length - 1]) {
      const changed = Buffer.from(bytes);
      changed[at]! ^= 1;
      expect(failure(() => box.open(`${prefix}:${id}:${changed.toString('base64url')}`, 'c')).reason).toBe('altered');
    }
    expect(failure(() => box.open(`${prefix}:${id}:${bytes.subarray(0, 20).toString('base64url')}`, 'c')).reason).toBe('altered');
    expect(failure(() => box.open('lk1:garbage', 'c')).reason).toBe('altered');
  });

  it('names a missing or another key, and opens with a previous key during a rotation', () => {
    const sealed = box.seal(SECRET, 'c');
    const none = failure(() => new SecretBox(null).open(sealed, 'c'));
    expect(none.reason).toBe('no-key');
    expect(none.message).toContain('KEY_ENCRYPTION_KEY is not set');
    const other = failure(() => new SecretBox(K2).open(sealed, 'c'));
    expect(other.reason).toBe('unknown-key');
    expect(other.message).toContain(`key id ${keyIdOf(K1)}`);
    const rotating = new SecretBox(K2, [K1]);
    expect(rotating.open(sealed, 'c')).toBe(SECRET);
    expect(rotating.needsRewrite(sealed)).toBe(true);
    expect(sealedKeyId(rotating.store(SECRET, 'c'))).toBe(keyIdOf(K2));
    // Previous keys only: opens, and stores plaintext (how encryption is turned off).
    const off = new SecretBox(null, [K1]);
    expect(off.open(sealed, 'c')).toBe(SECRET);
    expect(off.needsRewrite(sealed)).toBe(true);
    expect(off.store(SECRET, 'c')).toBe(SECRET);
  });
});
