/** The signing keys concern of the storage contract. */

export interface SigningKeyRecord {
  kid: string;
  alg: string;
  /** Private JWK as JSON (or the HS256 secret as an `oct` JWK). Never served. */
  privateJwk: string;
  /** Public JWK as JSON; null for symmetric keys. */
  publicJwk: string | null;
  createdAt: number;
  /** When it stopped signing; null while it is the active key. */
  retiredAt: number | null;
  /** After this it is no longer published nor accepted (retiredAt + max token lifetime). */
  expiresAt: number | null;
}

export interface SigningKeyStore {
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  insertSigningKey(key: SigningKeyRecord): Promise<void>;
  /** Marks every active key retired (expiring at `expiresAt`) and inserts `key` as active, atomically. */
  rotateSigningKey(key: SigningKeyRecord, now: number, expiresAt: number): Promise<void>;
  /**
   * Replaces the stored private part of key `kid` (plaintext or sealed, see lib/secret-box.ts)
   * if it still equals `expected`: compare and set, so that of several instances re-encrypting
   * the keys at once exactly one writes each row. False when the row changed or is gone.
   */
  replaceSigningKeyPrivate(kid: string, expected: string, privateJwk: string): Promise<boolean>;
  deleteExpiredSigningKeys(now: number): Promise<number>;
}
