/**
 * oidc-provider's storage over Latchkey's store (docs/oauth-provider.md, "Sessions" and
 * "Tokens"): one adapter instance per model. Every model but `Client` is a row of
 * oauth_payloads (OAuthPayloadStore); `Client` reads the registered clients (OAuthClientStore),
 * and writes one only through RFC 7591 dynamic registration.
 */
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Clock } from '../../clock.js';
import type { OAuthPayloadRecord, Store } from '../../store/types.js';
import { checkRegistration, hashClientSecret, toProviderMetadata } from './clients.js';

type PayloadStore = Pick<
  Store,
  | 'upsertOAuthPayload'
  | 'findOAuthPayload'
  | 'findOAuthPayloadByUid'
  | 'findOAuthPayloadByUserCode'
  | 'consumeOAuthPayload'
  | 'destroyOAuthPayload'
  | 'revokeOAuthGrant'
  | 'findOAuthClient'
  | 'createOAuthClient'
  | 'updateOAuthClient'
  | 'setOAuthClientSecret'
  | 'deleteOAuthClient'
>;

function text(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/** The payload as oidc-provider wants it back: `consumed` set when the row was consumed. */
function payloadOf(record: OAuthPayloadRecord): AdapterPayload {
  const payload = { ...record.payload } as AdapterPayload;
  if (record.consumedAt !== null) payload.consumed = Math.floor(record.consumedAt / 1000);
  return payload;
}

/** One model's rows in oauth_payloads. */
class PayloadAdapter implements Adapter {
  constructor(
    private readonly model: string,
    private readonly store: PayloadStore,
    private readonly clock: Clock,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const now = this.clock();
    const p = payload as Record<string, unknown>;
    await this.store.upsertOAuthPayload({
      model: this.model,
      id,
      payload: p,
      // A Grant is its own grant: revoking it deletes it with its tokens.
      grantId: this.model === 'Grant' ? id : text(p.grantId),
      userCode: text(p.userCode),
      uid: text(p.uid),
      accountId: text(p.accountId),
      clientId: text(p.clientId),
      expiresAt: typeof expiresIn === 'number' ? now + expiresIn * 1000 : null,
      consumedAt: null,
    });
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const record = await this.store.findOAuthPayload(this.model, id, this.clock());
    return record ? payloadOf(record) : undefined;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const record = await this.store.findOAuthPayloadByUid(this.model, uid, this.clock());
    return record ? payloadOf(record) : undefined;
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const record = await this.store.findOAuthPayloadByUserCode(this.model, userCode, this.clock());
    return record ? payloadOf(record) : undefined;
  }

  /**
   * oidc-provider reads the row, checks `consumed`, then consumes: two requests with the same
   * code or refresh token could both pass the check (each got tokens, on PostgreSQL 4 of 5). The
   * store's consume has one winner; every other request is refused here, before any token.
   */
  async consume(id: string): Promise<void> {
    if (!(await this.store.consumeOAuthPayload(this.model, id, this.clock()))) throw new errors.InvalidGrant('grant request is invalid (already used)');
  }

  async destroy(id: string): Promise<void> {
    await this.store.destroyOAuthPayload(this.model, id);
  }

  /**
   * oidc-provider calls this per token model when a grant is revoked (a reused code or refresh
   * token, a revocation): every row of the grant goes, its Grant (the remembered consent) too.
   */
  async revokeByGrantId(grantId: string): Promise<void> {
    await this.store.revokeOAuthGrant(grantId);
  }
}

/**
 * The `Client` model: the registered clients. A write comes only from dynamic registration
 * (OAUTH_DYNAMIC_REGISTRATION): the client is stored with `dynamic`, never first-party, its
 * secret hashed.
 */
class ClientAdapter implements Adapter {
  constructor(
    private readonly store: PayloadStore,
    private readonly clock: Clock,
    private readonly scopesAllowed: readonly string[],
  ) {}

  async find(id: string): Promise<AdapterPayload | undefined> {
    const client = await this.store.findOAuthClient(id);
    // Only the secret's SHA-256 is in it: provider.ts compares with that (clientSecretMatches).
    return client ? (toProviderMetadata(client) as AdapterPayload) : undefined;
  }

  async upsert(id: string, payload: AdapterPayload): Promise<void> {
    const now = this.clock();
    const p = payload as Record<string, unknown>;
    // The admin API's rules (https redirect URIs but on loopback, no fragment, known scopes, the
    // same default scopes): oidc-provider's own checks let http://any-host through.
    const checked = checkRegistration(p, this.scopesAllowed);
    if (!checked.ok) {
      const first = checked.fields?.[0];
      const message = first?.message ?? checked.detail ?? 'invalid client metadata';
      throw first?.field.startsWith('redirect_uris') ? new errors.CustomOIDCProviderError('invalid_redirect_uri', message) : new errors.InvalidClientMetadata(message);
    }
    const { name, metadata } = checked.value;
    const secret = text(p.client_secret);
    const existing = await this.store.findOAuthClient(id);
    if (!existing) {
      await this.store.createOAuthClient({
        id,
        name,
        secretHash: secret === null ? null : hashClientSecret(secret),
        metadata,
        firstParty: false,
        dynamic: true,
        createdAt: now,
        updatedAt: now,
        secretRotatedAt: null,
      });
      return;
    }
    await this.store.updateOAuthClient(id, { name, metadata, firstParty: existing.firstParty }, now);
    // An update through the registration endpoint hands back what find gave it (the hash) or a new secret.
    if (secret !== null && secret !== existing.secretHash) await this.store.setOAuthClientSecret(id, hashClientSecret(secret), now);
  }

  async destroy(id: string): Promise<void> {
    await this.store.deleteOAuthClient(id);
  }

  async findByUid(): Promise<undefined> {
    return undefined;
  }

  async findByUserCode(): Promise<undefined> {
    return undefined;
  }

  async consume(): Promise<void> {}

  async revokeByGrantId(): Promise<void> {}
}

/**
 * The adapter factory oidc-provider's `adapter` setting takes.
 *
 * @example
 * new Provider(issuer, { adapter: adapterFactory(ctx.store, ctx.clock, allowedScopes(ctx.config)), ... });
 */
export function adapterFactory(store: PayloadStore, clock: Clock, scopesAllowed: readonly string[]): (model: string) => Adapter {
  return (model) => (model === 'Client' ? new ClientAdapter(store, clock, scopesAllowed) : new PayloadAdapter(model, store, clock));
}
