/**
 * The identities concern of the storage contract (docs/social-login.md): the provider accounts
 * linked to a user, the state of a sign-in in flight at a provider, and the single-use code that
 * hands its result to the app. The store keeps states and exchange codes only as SHA-256 hashes
 * of the values that travel (the state in the provider's URL, the code in the app's), and
 * the browser binding as the hash of its cookie.
 */

export interface IdentityRecord {
  id: string;
  userId: string;
  /** The configured provider id (`google`, `github`, ...). */
  provider: string;
  /** The provider's stable id of the account (`sub`, GitHub's numeric id): unique per provider. */
  subject: string;
  /** The email the provider last gave, and whether it said it was verified. */
  email: string | null;
  emailVerified: boolean;
  createdAt: number;
  lastUsedAt: number | null;
}

export type NewIdentity = Omit<IdentityRecord, 'lastUsedAt'>;

/** A sign-in (or link) started at GET /auth/oauth/{provider}/start, until its callback. */
export interface OAuthStateRecord {
  /** SHA-256 (hex) of the `state` sent to the provider. */
  stateHash: string;
  /** SHA-256 (hex) of the random value in the browser's HttpOnly cookie. */
  browserHash: string;
  provider: string;
  /** The OIDC nonce expected in the ID token (null for GitHub). */
  nonce: string | null;
  /** The PKCE code_verifier toward the provider (its challenge went in the authorization URL). */
  codeVerifier: string;
  redirectTo: string;
  /** The app's own S256 code_challenge, when it sent one: the exchange then needs its verifier. */
  appCodeChallenge: string | null;
  /** The signed-in user who asked to link (POST /auth/identities/{provider}/link); null for a sign-in. */
  linkUserId: string | null;
  createdAt: number;
  expiresAt: number;
}

/** What a successful callback hands to POST /auth/oauth/exchange. */
export interface ExchangeCodeRecord {
  /** SHA-256 (hex) of the code in the redirect. */
  codeHash: string;
  userId: string;
  identityId: string;
  /** `sign_in`: the exchange answers as a login; `link`: it answers the linked identity. */
  purpose: 'sign_in' | 'link';
  appCodeChallenge: string | null;
  createdAt: number;
  expiresAt: number;
}

export interface IdentityStore {
  /**
   * Links an identity. False, and nothing stored, when (provider, subject) is already linked (to
   * this user or another): one insert against the unique index, so of concurrent calls with one
   * (provider, subject) exactly one returns true.
   */
  createIdentity(identity: NewIdentity): Promise<boolean>;
  /** The identity of this provider account, whoever it is linked to; null when none. */
  findIdentity(provider: string, subject: string): Promise<IdentityRecord | null>;
  /** The user's identities, oldest first. */
  listIdentities(userId: string): Promise<IdentityRecord[]>;
  /**
   * Unlinks an identity of this user; false when it is not this user's or gone. With `keepOne`,
   * also false (nothing deleted) when it is the user's only identity, decided atomically: of
   * concurrent calls unlinking a user's identities one by one, at least one identity is left.
   */
  deleteIdentity(userId: string, id: string, keepOne?: boolean): Promise<boolean>;
  /** Records a sign-in with the identity: the email and verified flag the provider gave this time, and the time. */
  touchIdentity(id: string, email: string | null, emailVerified: boolean, now: number): Promise<void>;
  /** Stores a state until its callback consumes it or it expires. */
  createOAuthState(state: OAuthStateRecord): Promise<void>;
  /**
   * Spends a state: of concurrent calls with one hash exactly one receives the row; an expired,
   * spent or unknown one gives undefined. A spent state is deleted, so it never answers again.
   */
  consumeOAuthState(stateHash: string, now: number): Promise<OAuthStateRecord | undefined>;
  createExchangeCode(code: ExchangeCodeRecord): Promise<void>;
  /** Spends an exchange code: as consumeOAuthState (exactly one receiver, deleted when spent). */
  consumeExchangeCode(codeHash: string, now: number): Promise<ExchangeCodeRecord | undefined>;
  /** Deletes at most `limit` expired states and as many expired exchange codes (the PURGE_INTERVAL sweep); how many went. */
  purgeOAuthStates(now: number, limit: number): Promise<number>;
}
