import { LatchkeyError } from '@latchkey/client';
import type { ReactNode } from 'react';
import type { OAuthClient, OAuthClientInput } from '../api.ts';
import { Field } from '../forms.tsx';
import { ErrorMessage } from '../shared.tsx';

/** The scopes every Latchkey provider knows; the server's OAUTH_SCOPES adds custom ones. */
export const BUILT_IN_SCOPES: ReadonlyArray<{ scope: string; hint: string }> = [
  { scope: 'openid', hint: 'sign-in (the user id)' },
  { scope: 'profile', hint: 'name, locale' },
  { scope: 'email', hint: 'email address' },
  { scope: 'offline_access', hint: 'stay signed in (a refresh token)' },
  { scope: 'roles', hint: 'the user’s roles' },
];

const GRANT_TYPES: ReadonlyArray<{ type: string; label: string; confidentialOnly: boolean }> = [
  { type: 'authorization_code', label: 'Authorization code (users sign in)', confidentialOnly: false },
  { type: 'refresh_token', label: 'Refresh token', confidentialOnly: false },
  { type: 'client_credentials', label: 'Client credentials (a service acting for itself)', confidentialOnly: true },
];

const SECRET_METHODS: ReadonlyArray<{ method: string; label: string }> = [
  { method: 'client_secret_basic', label: 'Client secret, HTTP Basic (client_secret_basic)' },
  { method: 'client_secret_post', label: 'Client secret in the form (client_secret_post)' },
  { method: 'private_key_jwt', label: 'Signed JWT with the app’s key (private_key_jwt)' },
];

/** The form's fields as typed; lists are text, one entry per line (URIs) or space-separated (scopes). */
export interface ClientDraft {
  name: string;
  redirectUris: string;
  postLogoutRedirectUris: string;
  type: 'public' | 'confidential';
  authMethod: string;
  grantTypes: string[];
  scopes: string[];
  customScopes: string;
  firstParty: boolean;
  logoUri: string;
  clientUri: string;
  jwksUri: string;
}

export const EMPTY_DRAFT: ClientDraft = Object.freeze({
  name: '',
  redirectUris: '',
  postLogoutRedirectUris: '',
  type: 'confidential',
  authMethod: 'client_secret_basic',
  grantTypes: ['authorization_code', 'refresh_token'],
  scopes: ['openid', 'profile', 'email'],
  customScopes: '',
  firstParty: false,
  logoUri: '',
  clientUri: '',
  jwksUri: '',
}) as ClientDraft;

const builtIn = new Set(BUILT_IN_SCOPES.map((s) => s.scope));

export function draftOf(client: OAuthClient): ClientDraft {
  return {
    name: client.name,
    redirectUris: client.redirect_uris.join('\n'),
    postLogoutRedirectUris: client.post_logout_redirect_uris.join('\n'),
    type: client.type,
    authMethod: client.token_endpoint_auth_method,
    grantTypes: client.grant_types,
    scopes: client.scopes.filter((s) => builtIn.has(s)),
    customScopes: client.scopes.filter((s) => !builtIn.has(s)).join(' '),
    firstParty: client.first_party,
    logoUri: client.logo_uri ?? '',
    clientUri: client.client_uri ?? '',
    jwksUri: client.jwks_uri ?? '',
  };
}

const lines = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean);

/**
 * The request body of a draft. Empty optional URIs are left out of a new client and cleared
 * (null) on an existing one; type and method are the creation's (see ClientFields).
 */
export function inputOf(draft: ClientDraft, creating: boolean): OAuthClientInput {
  const optional = (value: string) => (value.trim() ? value.trim() : creating ? undefined : null);
  const input: OAuthClientInput = {
    name: draft.name.trim(),
    redirect_uris: lines(draft.redirectUris),
    post_logout_redirect_uris: lines(draft.postLogoutRedirectUris),
    grant_types: draft.type === 'public' ? draft.grantTypes.filter((g) => g !== 'client_credentials') : draft.grantTypes,
    scopes: [...new Set([...draft.scopes, ...draft.customScopes.split(/[\s,]+/).filter(Boolean)])],
    first_party: draft.firstParty,
  };
  if (creating) input.token_endpoint_auth_method = draft.type === 'public' ? 'none' : draft.authMethod;
  for (const [key, value] of [
    ['logo_uri', optional(draft.logoUri)],
    ['client_uri', optional(draft.clientUri)],
  ] as const) {
    if (value !== undefined) input[key] = value;
  }
  if (draft.type === 'confidential' && draft.authMethod === 'private_key_jwt') {
    const jwks = optional(draft.jwksUri);
    if (jwks !== undefined) input.jwks_uri = jwks;
  }
  return input;
}

const belongsTo = (name: string, field: string) => name === field || name.startsWith(`${field}.`) || name.startsWith(`${field}[`);

/**
 * The problems of a 422 that belong to `field`: the field itself or one entry of it
 * (`redirect_uris.2`, as the server names an entry of a list).
 */
export function fieldProblems(error: unknown, field: string): string | undefined {
  if (!(error instanceof LatchkeyError)) return undefined;
  const found = error.errors.filter((e) => belongsTo(e.field, field));
  return found.length ? found.map((e) => e.message).join(' ') : undefined;
}

const FIELDS = ['name', 'redirect_uris', 'post_logout_redirect_uris', 'grant_types', 'token_endpoint_auth_method', 'scopes', 'first_party', 'logo_uri', 'client_uri', 'jwks_uri', 'jwks'];

/** The error of a failed save that no field shows (a conflict, a network failure, a field the form has not). */
export function formLevelError(error: unknown): unknown {
  if (!(error instanceof LatchkeyError) || error.errors.length === 0) return error;
  return error.errors.every((e) => FIELDS.some((f) => belongsTo(e.field, f))) ? null : error;
}

function ListField(props: { id: string; label: string; value: string; onChange: (v: string) => void; hint: string; error?: string | undefined; required?: boolean }): ReactNode {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <textarea
        id={props.id}
        rows={3}
        value={props.value}
        required={props.required}
        spellCheck={false}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={`${props.id}-note`}
        onChange={(e) => props.onChange(e.target.value)}
      />
      {props.error ? (
        <p className="field-error" id={`${props.id}-note`}>
          {props.error}
        </p>
      ) : (
        <p className="hint" id={`${props.id}-note`}>
          {props.hint}
        </p>
      )}
    </div>
  );
}

/**
 * The fields of an OAuth client, for the create page and the client's own page. The type and
 * the authentication method are chosen at creation only (`creating`): changing them would turn a
 * client with a secret into one without, or the reverse; register a new client instead.
 */
export function ClientFields({ draft, onDraft, error, creating }: { draft: ClientDraft; onDraft: (d: ClientDraft) => void; error: unknown; creating: boolean }): ReactNode {
  const set = <K extends keyof ClientDraft>(key: K, value: ClientDraft[K]) => onDraft({ ...draft, [key]: value });
  const toggle = (list: string[], item: string, on: boolean) => (on ? [...new Set([...list, item])] : list.filter((x) => x !== item));
  return (
    <>
      <Field label="Name" name="oauth-name" value={draft.name} onChange={(v) => set('name', v)} required autoComplete="off" hint="Shown to users on the consent page and in their connected apps." error={fieldProblems(error, 'name')} />
      <ListField
        id="oauth-redirect-uris"
        label="Redirect URIs"
        value={draft.redirectUris}
        onChange={(v) => set('redirectUris', v)}
        required
        hint="One per line, matched exactly. https, or http://localhost for development; an app’s own scheme (com.example.app:/cb) for public clients."
        error={fieldProblems(error, 'redirect_uris')}
      />
      <ListField
        id="oauth-post-logout-uris"
        label="Post-logout redirect URIs"
        value={draft.postLogoutRedirectUris}
        onChange={(v) => set('postLogoutRedirectUris', v)}
        hint="Optional, one per line: where the app may send users after signing them out."
        error={fieldProblems(error, 'post_logout_redirect_uris')}
      />
      <fieldset className="mode">
        <legend>Type</legend>
        <label className="check">
          <input
            type="radio"
            name="oauth-type"
            value="confidential"
            disabled={!creating}
            checked={draft.type === 'confidential'}
            onChange={() => onDraft({ ...draft, type: 'confidential', authMethod: draft.authMethod === 'none' ? 'client_secret_basic' : draft.authMethod })}
          />{' '}
          Confidential: a server that keeps a secret
        </label>
        <label className="check">
          <input
            type="radio"
            name="oauth-type"
            value="public"
            disabled={!creating}
            checked={draft.type === 'public'}
            onChange={() => onDraft({ ...draft, type: 'public', authMethod: 'none', grantTypes: draft.grantTypes.filter((g) => g !== 'client_credentials') })}
          />{' '}
          Public: a browser or mobile app (no secret, PKCE)
        </label>
        {creating ? null : <p className="hint">Fixed at creation: register a new client to change it.</p>}
      </fieldset>
      {draft.type === 'confidential' ? (
        <div className="field">
          <label htmlFor="oauth-auth-method">Authentication method</label>
          <select id="oauth-auth-method" value={draft.authMethod} disabled={!creating} onChange={(e) => set('authMethod', e.target.value)}>
            {SECRET_METHODS.map((m) => (
              <option key={m.method} value={m.method}>
                {m.label}
              </option>
            ))}
          </select>
          {fieldProblems(error, 'token_endpoint_auth_method') ? <p className="field-error">{fieldProblems(error, 'token_endpoint_auth_method')}</p> : null}
        </div>
      ) : null}
      {draft.type === 'confidential' && draft.authMethod === 'private_key_jwt' ? (
        <Field
          label="JWKS URI"
          name="oauth-jwks-uri"
          type="url"
          value={draft.jwksUri}
          onChange={(v) => set('jwksUri', v)}
          hint="https: where the app publishes its public keys."
          error={fieldProblems(error, 'jwks_uri') ?? fieldProblems(error, 'jwks')}
        />
      ) : null}
      <fieldset className="event-types">
        <legend>Grant types</legend>
        {GRANT_TYPES.filter((g) => !g.confidentialOnly || draft.type === 'confidential').map((g) => (
          <label key={g.type} className="check">
            <input type="checkbox" checked={draft.grantTypes.includes(g.type)} onChange={(e) => set('grantTypes', toggle(draft.grantTypes, g.type, e.target.checked))} /> {g.label}
          </label>
        ))}
        {fieldProblems(error, 'grant_types') ? <p className="field-error">{fieldProblems(error, 'grant_types')}</p> : null}
      </fieldset>
      <fieldset className="event-types">
        <legend>Scopes</legend>
        <div className="event-type-grid">
          {BUILT_IN_SCOPES.map((s) => (
            <label key={s.scope} className="check" title={s.hint}>
              <input type="checkbox" checked={draft.scopes.includes(s.scope)} onChange={(e) => set('scopes', toggle(draft.scopes, s.scope, e.target.checked))} /> <code>{s.scope}</code>
            </label>
          ))}
        </div>
        <Field
          label="Custom scopes"
          name="oauth-custom-scopes"
          value={draft.customScopes}
          onChange={(v) => set('customScopes', v)}
          autoComplete="off"
          hint="Optional, space-separated; each must be declared in the server’s OAUTH_SCOPES."
          error={fieldProblems(error, 'scopes')}
        />
      </fieldset>
      <label className="check">
        <input type="checkbox" checked={draft.firstParty} onChange={(e) => set('firstParty', e.target.checked)} /> First-party: your own app, users are not asked for consent
      </label>
      <Field label="Logo URI" name="oauth-logo-uri" type="url" value={draft.logoUri} onChange={(v) => set('logoUri', v)} hint="Optional, https: shown on the consent page." error={fieldProblems(error, 'logo_uri')} />
      <Field label="Client URI" name="oauth-client-uri" type="url" value={draft.clientUri} onChange={(v) => set('clientUri', v)} hint="Optional: the app’s home page." error={fieldProblems(error, 'client_uri')} />
      <ErrorMessage error={formLevelError(error)} />
    </>
  );
}
