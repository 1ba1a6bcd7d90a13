import {
  calculateJwkThumbprint,
  exportJWK,
  importPKCS8,
  generateKeyPair,
  generateSecret,
  importJWK,
  type JWK,
  type CryptoKey as JoseCryptoKey,
} from 'jose';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Clock } from '../clock.js';
import type { SigningAlgorithm, TokensConfig } from '../config.js';
import { SecretBox, SecretBoxError } from '../lib/secret-box.js';
import type { SigningKeyRecord, SigningKeyStore } from '../store/types.js';
import { takeKeyPairAhead } from './key-pair-ahead.js';

type KeyLike = JoseCryptoKey | Uint8Array;

/** A key usable for verification; bound to exactly one algorithm. */
export interface VerificationKey {
  kid: string;
  alg: string;
  key: KeyLike;
}

export interface SigningKey extends VerificationKey {}

/** A public key as published in the JWKS. */
export interface PublishedJwk extends JWK {
  kid: string;
  alg: string;
  use: 'sig';
}

/** Private members of a JWK: stripped to get the public key. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

export class ConfiguredKeyError extends Error {
  override name = 'ConfiguredKeyError';
}

/** A stored private key cannot be decrypted (KEY_ENCRYPTION_KEY missing or another key); the message says which key and what to set. */
export class KeyEncryptionError extends Error {
  override name = 'KeyEncryptionError';
}

/**
 * The SecretBox of the configuration: seals with KEY_ENCRYPTION_KEY (plaintext without it) and
 * opens with it or KEY_ENCRYPTION_KEY_PREVIOUS.
 *
 * @example
 * new KeyRing(store, config.tokens.jwtAlg, clock, retiredKeyLifetimeMs(config.tokens), secretBoxFor(config.tokens));
 */
export function secretBoxFor(config: Pick<TokensConfig, 'keyEncryptionKey' | 'keyEncryptionKeyPrevious'>): SecretBox {
  return new SecretBox(config.keyEncryptionKey, config.keyEncryptionKeyPrevious);
}

/** The additional data a private key is sealed with: a sealed value moved to another row does not open. */
function sealContext(kid: string): string {
  return `signing_keys:${kid}`;
}

/**
 * The private JWK of a stored key, decrypted when it is sealed.
 *
 * @example
 * const jwk = JSON.parse(openPrivateJwk(secretBoxFor(config.tokens), record)) as JWK;
 */
export function openPrivateJwk(box: SecretBox, record: SigningKeyRecord): string {
  try {
    return box.open(record.privateJwk, sealContext(record.kid));
  } catch (err) {
    if (err instanceof SecretBoxError) throw new KeyEncryptionError(`signing key ${record.kid}: ${err.message}`);
    throw err;
  }
}

/**
 * The signing key given by configuration, if any: JWT_PRIVATE_KEY_FILE (PEM, PKCS#8) for
 * RS256/ES256/EdDSA, or JWT_SECRET for HS256. Its kid is derived from the key (the RFC 7638
 * thumbprint; for a secret, a truncated SHA-256), so every instance given the same key agrees.
 */
export async function configuredSigningKey(config: TokensConfig, now: number): Promise<SigningKeyRecord | null> {
  if (config.jwtSecret !== null) {
    const k = Buffer.from(config.jwtSecret, 'utf8').toString('base64url');
    const kid = 'hs256-' + createHash('sha256').update(config.jwtSecret).digest('hex').slice(0, 16);
    return { kid, alg: 'HS256', privateJwk: JSON.stringify({ kty: 'oct', k, kid, alg: 'HS256' }), publicJwk: null, createdAt: now, retiredAt: null, expiresAt: null };
  }
  if (config.jwtPrivateKeyFile === null) return null;
  let pem: string;
  try {
    pem = readFileSync(config.jwtPrivateKeyFile, 'utf8');
  } catch (err) {
    throw new ConfiguredKeyError(`JWT_PRIVATE_KEY_FILE: cannot read ${config.jwtPrivateKeyFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let privateJwk: JWK;
  try {
    const key = await importPKCS8(pem, config.jwtAlg === 'EdDSA' ? 'Ed25519' : config.jwtAlg, { extractable: true });
    privateJwk = await exportJWK(key);
  } catch {
    // The message never includes the file's content.
    throw new ConfiguredKeyError(`JWT_PRIVATE_KEY_FILE: not a PKCS#8 PEM private key usable with ${config.jwtAlg}`);
  }
  if (config.jwtAlg === 'RS256' && Buffer.from(privateJwk.n ?? '', 'base64url').length * 8 < 2048) {
    throw new ConfiguredKeyError('JWT_PRIVATE_KEY_FILE: RSA keys must be at least 2048 bits');
  }
  const publicJwk: JWK = { ...privateJwk };
  for (const m of PRIVATE_MEMBERS) delete publicJwk[m];
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    alg: config.jwtAlg,
    privateJwk: JSON.stringify({ ...privateJwk, kid, alg: config.jwtAlg }),
    publicJwk: JSON.stringify({ ...publicJwk, kid, alg: config.jwtAlg, use: 'sig' }),
    createdAt: now,
    retiredAt: null,
    expiresAt: null,
  };
}

/** Creates a new key record for `alg`: RSA 2048, P-256, Ed25519 or a 256-bit HMAC secret. */
export async function generateSigningKey(alg: SigningAlgorithm, now: number): Promise<SigningKeyRecord> {
  if (alg === 'HS256') {
    const secret = await generateSecret('HS256', { extractable: true });
    const jwk = await exportJWK(secret);
    const kid = randomUUID();
    return {
      kid,
      alg,
      privateJwk: JSON.stringify({ ...jwk, kid, alg }),
      publicJwk: null,
      createdAt: now,
      retiredAt: null,
      expiresAt: null,
    };
  }
  const options = alg === 'RS256' ? { modulusLength: 2048, extractable: true } : { extractable: true };
  // A pair `latchkey serve` started before the server loaded (see key-pair-ahead.ts), else a new one.
  const { privateKey, publicKey } = await (takeKeyPairAhead(alg) ?? generateKeyPair(alg === 'EdDSA' ? 'Ed25519' : alg, options));
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = await exportJWK(privateKey);
  return {
    kid,
    alg,
    privateJwk: JSON.stringify({ ...privateJwk, kid, alg }),
    publicJwk: JSON.stringify({ ...publicJwk, kid, alg, use: 'sig' }),
    createdAt: now,
    retiredAt: null,
    expiresAt: null,
  };
}

/**
 * How long a retired key stays published and accepted: the longest life of a token it signed
 * (lifetime + leeway), plus one KEY_RELOAD_INTERVAL, because another instance goes on signing
 * with it until its next reload.
 *
 * @example
 * new KeyRing(store, config.tokens.jwtAlg, clock, retiredKeyLifetimeMs(config.tokens));
 */
export function retiredKeyLifetimeMs(config: Pick<TokensConfig, 'accessTokenTtlMs' | 'jwtLeewayMs' | 'keyReloadIntervalMs'>): number {
  return config.accessTokenTtlMs + config.jwtLeewayMs + config.keyReloadIntervalMs;
}

/** `record` must hold the plaintext private JWK (see openPrivateJwk). */
async function importKey(record: SigningKeyRecord, which: 'private' | 'public'): Promise<KeyLike> {
  const alg = record.alg === 'EdDSA' ? 'Ed25519' : record.alg;
  if (which === 'public' && record.publicJwk) return importJWK(JSON.parse(record.publicJwk) as JWK, alg);
  return importJWK(JSON.parse(record.privateJwk) as JWK, alg);
}

interface KeySet {
  signing: SigningKey;
  verification: Map<string, VerificationKey>;
  jwks: { keys: PublishedJwk[] };
}

/**
 * The signing keys: the active one signs, every unexpired one verifies and (if asymmetric) is
 * published. Keys live in the store so that every instance shares them; each instance reloads
 * them every `reloadIntervalMs` and at once when it meets an unknown `kid` (at most once a
 * second, so random kids cannot turn into a database flood).
 */
export class KeyRing {
  private set: KeySet | undefined;
  private loading: Promise<void> | undefined;
  private lastReload = 0;
  private nextReload: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: SigningKeyStore,
    private readonly alg: SigningAlgorithm,
    private readonly clock: Clock,
    /** How long a retired key stays published: see `retiredKeyLifetimeMs`. */
    private readonly retiredLifetimeMs: number,
    /** Encrypts private keys at rest (KEY_ENCRYPTION_KEY, see `secretBoxFor`); the default stores and reads plaintext. */
    private readonly box: SecretBox = new SecretBox(null),
  ) {}

  /**
   * Loads the keys, creating the first one (or one for a newly configured algorithm). Stops with
   * a KeyEncryptionError when a stored key cannot be decrypted (never makes a new key instead),
   * and brings every stored key to the configured form: plaintext keys are encrypted when
   * KEY_ENCRYPTION_KEY is set, keys sealed with a previous key are re-encrypted.
   */
  async init(reloadIntervalMs: number, configured: SigningKeyRecord | null = null): Promise<void> {
    await this.reload();
    await this.resealStoredKeys();
    if (configured) {
      await this.adopt(configured);
    } else if (this.set?.signing.alg !== this.alg) {
      // No key yet, or JWT_ALG changed: a new key for the configured algorithm becomes active,
      // the old one stays published until the tokens it signed have expired.
      await this.rotate();
    }
    if (reloadIntervalMs > 0) {
      this.timer = setInterval(() => void this.reload().catch(() => undefined), reloadIntervalMs);
      this.timer.unref();
    }
  }

  /**
   * Makes the configured key the active one (once; later starts find it active). A new file
   * means a new kid: the previous key is retired and stays published like after a rotation.
   */
  private async adopt(configured: SigningKeyRecord): Promise<void> {
    if (this.set?.signing.kid === configured.kid) return;
    const existing = (await this.store.listSigningKeys()).find((k) => k.kid === configured.kid);
    if (existing && existing.retiredAt !== null) {
      throw new ConfiguredKeyError(
        `the configured signing key ${configured.kid} was retired (by \`latchkey keys rotate\`?); configure a new key`,
      );
    }
    if (!existing) {
      const now = this.clock();
      try {
        await this.store.rotateSigningKey(this.sealed({ ...configured, createdAt: now }), now, now + this.retiredLifetimeMs);
      } catch (err) {
        // Another instance adopted the same key at the same moment: its row is what we wanted.
        const raced = (await this.store.listSigningKeys()).some((k) => k.kid === configured.kid);
        if (!raced) throw err;
      }
    }
    await this.reload();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The stored form of a new key: its private part sealed under KEY_ENCRYPTION_KEY when one is set. */
  private sealed(record: SigningKeyRecord): SigningKeyRecord {
    return { ...record, privateJwk: this.box.store(record.privateJwk, sealContext(record.kid)) };
  }

  /**
   * Rewrites each stored private key that is not in the configured form (compare and set: when
   * several instances start together, one rewrites each row). An expired key that cannot be
   * decrypted is left alone: it signs and verifies nothing and the purge deletes it.
   */
  private async resealStoredKeys(): Promise<void> {
    const now = this.clock();
    for (const record of await this.store.listSigningKeys()) {
      if (!this.box.needsRewrite(record.privateJwk)) continue;
      let plaintext: string;
      try {
        plaintext = openPrivateJwk(this.box, record);
      } catch (err) {
        if (record.expiresAt !== null && record.expiresAt <= now) continue;
        throw err;
      }
      await this.store.replaceSigningKeyPrivate(record.kid, record.privateJwk, this.box.store(plaintext, sealContext(record.kid)));
    }
  }

  get signingKey(): SigningKey {
    if (!this.set) throw new Error('KeyRing used before init()');
    return this.set.signing;
  }

  get jwks(): { keys: PublishedJwk[] } {
    return this.set?.jwks ?? { keys: [] };
  }

  /** The key for `kid`, or undefined. Never reads the database. */
  lookup(kid: string): VerificationKey | undefined {
    return this.set?.verification.get(kid);
  }

  /**
   * Reloads on an unknown kid, at most once a second; resolves to the key if it appeared. Within
   * a second of the last reload the caller waits for the next one (all such callers share it), so
   * a key created by another instance just after this one loaded is still found — e.g. when
   * several instances start together on a new database — while random kids cost one read a second.
   */
  async lookupFresh(kid: string): Promise<VerificationKey | undefined> {
    const hit = this.lookup(kid);
    if (hit) return hit;
    const sinceReload = Date.now() - this.lastReload;
    if (sinceReload >= 1000) {
      await this.reload();
    } else {
      this.nextReload ??= new Promise<void>((resolve) => setTimeout(resolve, 1000 - sinceReload))
        .then(() => this.reload())
        .finally(() => {
          this.nextReload = undefined;
        });
      await this.nextReload;
    }
    return this.lookup(kid);
  }

  /** Makes a new key active; the previous keys keep verifying until their tokens expired. */
  async rotate(): Promise<SigningKeyRecord> {
    const now = this.clock();
    const record = await generateSigningKey(this.alg, now);
    await this.store.rotateSigningKey(this.sealed(record), now, now + this.retiredLifetimeMs);
    await this.reload();
    return record;
  }

  reload(): Promise<void> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async load(): Promise<void> {
    this.lastReload = Date.now();
    const now = this.clock();
    const records = (await this.store.listSigningKeys()).filter((k) => k.expiresAt === null || k.expiresAt > now);
    const active = records
      .filter((k) => k.retiredAt === null)
      .sort((a, b) => b.createdAt - a.createdAt || (a.kid < b.kid ? 1 : -1))[0];
    if (!active) {
      this.set = undefined;
      return;
    }
    const verification = new Map<string, VerificationKey>();
    const keys: PublishedJwk[] = [];
    // Private parts are decrypted only where they are used: the active key, and HS256 keys (which
    // verify with their secret). A key sealed under a KEK this instance lacks fails here.
    const withPrivate = (k: SigningKeyRecord): SigningKeyRecord => ({ ...k, privateJwk: openPrivateJwk(this.box, k) });
    for (const record of records) {
      const usable = record.publicJwk ? record : withPrivate(record);
      verification.set(record.kid, { kid: record.kid, alg: record.alg, key: await importKey(usable, 'public') });
      if (record.publicJwk) keys.push(JSON.parse(record.publicJwk) as PublishedJwk);
    }
    this.set = {
      signing: { kid: active.kid, alg: active.alg, key: await importKey(withPrivate(active), 'private') },
      verification,
      jwks: { keys },
    };
  }
}
