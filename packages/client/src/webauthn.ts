import { LatchkeyError } from './errors.js';

/**
 * The browser half of a WebAuthn ceremony, with no dependency: Latchkey answers the options in
 * their JSON form (WebAuthn Level 3), the browser's own `PublicKeyCredential.parse*OptionsFromJSON`
 * and `credential.toJSON()` convert them where present, and a small base64url conversion stands
 * in where not (older browsers; tests in Node).
 */

type Json = Record<string, unknown>;
export type WebAuthnApi = Pick<CredentialsContainer, 'create' | 'get'>;

interface JsonParsers {
  parseCreationOptionsFromJSON?: (options: Json) => PublicKeyCredentialCreationOptions;
  parseRequestOptionsFromJSON?: (options: Json) => PublicKeyCredentialRequestOptions;
  signalUnknownCredential?: (options: { rpId: string; credentialId: string }) => Promise<void>;
}

function parsers(): JsonParsers {
  return ((globalThis as unknown as { PublicKeyCredential?: JsonParsers }).PublicKeyCredential ?? {});
}

/** The browser's WebAuthn, or null where there is none (no `navigator.credentials`, or no PublicKeyCredential). */
export function browserWebAuthn(): WebAuthnApi | null {
  const nav = (globalThis as { navigator?: { credentials?: WebAuthnApi } }).navigator;
  if (!nav?.credentials || typeof (globalThis as { PublicKeyCredential?: unknown }).PublicKeyCredential === 'undefined') return null;
  return nav.credentials;
}

export function toBase64url(buffer: ArrayBuffer | ArrayBufferView): string {
  const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64url(text: string): ArrayBuffer {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

function descriptors(list: unknown): PublicKeyCredentialDescriptor[] | undefined {
  if (!Array.isArray(list)) return undefined;
  return (list as Array<{ id: string; type?: string; transports?: string[] }>).map((d) => ({
    ...d,
    type: 'public-key',
    id: fromBase64url(d.id),
  })) as PublicKeyCredentialDescriptor[];
}

export function creationOptions(json: Json): PublicKeyCredentialCreationOptions {
  const pkc = parsers();
  if (pkc.parseCreationOptionsFromJSON) return pkc.parseCreationOptionsFromJSON(json);
  const user = json.user as { id: string; name: string; displayName: string };
  const options = {
    ...json,
    challenge: fromBase64url(json.challenge as string),
    user: { ...user, id: fromBase64url(user.id) },
  } as Json;
  const exclude = descriptors(json.excludeCredentials);
  if (exclude) options.excludeCredentials = exclude;
  return options as unknown as PublicKeyCredentialCreationOptions;
}

export function requestOptions(json: Json): PublicKeyCredentialRequestOptions {
  const pkc = parsers();
  if (pkc.parseRequestOptionsFromJSON) return pkc.parseRequestOptionsFromJSON(json);
  const options = { ...json, challenge: fromBase64url(json.challenge as string) } as Json;
  const allow = descriptors(json.allowCredentials);
  if (allow) options.allowCredentials = allow;
  return options as unknown as PublicKeyCredentialRequestOptions;
}

interface CredentialLike {
  id: string;
  rawId: ArrayBuffer;
  type: string;
  authenticatorAttachment?: string | null;
  response: {
    clientDataJSON: ArrayBuffer;
    attestationObject?: ArrayBuffer;
    authenticatorData?: ArrayBuffer;
    signature?: ArrayBuffer;
    userHandle?: ArrayBuffer | null;
    getTransports?: () => string[];
  };
  getClientExtensionResults?: () => Json;
  toJSON?: () => Json;
}

/** `credential.toJSON()`, or the same shape built by hand where the browser lacks it. */
export function credentialJson(credential: Credential): Json {
  const c = credential as unknown as CredentialLike;
  if (typeof c.toJSON === 'function') return c.toJSON();
  const response: Json = { clientDataJSON: toBase64url(c.response.clientDataJSON) };
  if (c.response.attestationObject) {
    response.attestationObject = toBase64url(c.response.attestationObject);
    response.transports = c.response.getTransports?.() ?? [];
  } else {
    response.authenticatorData = toBase64url(c.response.authenticatorData!);
    response.signature = toBase64url(c.response.signature!);
    response.userHandle = c.response.userHandle ? toBase64url(c.response.userHandle) : null;
  }
  const json: Json = {
    id: c.id,
    rawId: toBase64url(c.rawId),
    type: c.type,
    response,
    clientExtensionResults: c.getClientExtensionResults?.() ?? {},
  };
  if (c.authenticatorAttachment) json.authenticatorAttachment = c.authenticatorAttachment;
  return json;
}

/** A WebAuthn failure of the browser as a LatchkeyError (status 0: the server was not involved). */
function ceremonyError(error: unknown, ceremony: 'create' | 'get'): LatchkeyError {
  const name = (error as { name?: unknown } | null)?.name;
  const detail = error instanceof Error ? error.message : String(error);
  let result: LatchkeyError;
  if (name === 'NotAllowedError' || name === 'AbortError') {
    // The user dismissed the dialog, it timed out, or there was no passkey to offer: browsers
    // deliberately do not tell these apart.
    result = new LatchkeyError('PASSKEY_CANCELLED', 'The passkey request was cancelled or timed out.', 0);
  } else if (name === 'InvalidStateError' && ceremony === 'create') {
    result = new LatchkeyError('PASSKEY_ALREADY_REGISTERED', 'This authenticator already holds a passkey for this account.', 0);
  } else {
    result = new LatchkeyError('PASSKEYS_UNSUPPORTED', `Passkeys cannot be used here: ${detail}`, 0);
  }
  (result as { cause?: unknown }).cause = error;
  return result;
}

function unsupported(): LatchkeyError {
  return new LatchkeyError('PASSKEYS_UNSUPPORTED', 'This browser does not support passkeys.', 0);
}

/** navigator.credentials.create() with the server's JSON options; the new credential's JSON. */
export async function createCredential(api: WebAuthnApi | null, options: Json): Promise<Json> {
  if (!api) throw unsupported();
  let credential: Credential | null;
  try {
    credential = await api.create({ publicKey: creationOptions(options) });
  } catch (error) {
    throw ceremonyError(error, 'create');
  }
  if (!credential) throw ceremonyError(Object.assign(new Error('no credential'), { name: 'NotAllowedError' }), 'create');
  return credentialJson(credential);
}

/** How a get() is mediated: `conditional` offers the passkeys in the autofill of a `webauthn` field. */
export interface AssertionRequest {
  mediation?: 'conditional';
  signal?: AbortSignal;
}

/** navigator.credentials.get() with the server's JSON options; the assertion's JSON. */
export async function getAssertion(api: WebAuthnApi | null, options: Json, request: AssertionRequest = {}): Promise<Json> {
  if (!api) throw unsupported();
  let credential: Credential | null;
  try {
    credential = await api.get({ publicKey: requestOptions(options), ...request });
  } catch (error) {
    throw ceremonyError(error, 'get');
  }
  if (!credential) throw ceremonyError(Object.assign(new Error('no credential'), { name: 'NotAllowedError' }), 'get');
  return credentialJson(credential);
}

/**
 * Tells the browser (or password manager) that a passkey is not known here, so it stops offering
 * it (WebAuthn Level 3 signal API; ignored where absent).
 */
export function signalUnknownCredential(rpId: unknown, credentialId: unknown): void {
  const pkc = parsers();
  if (!pkc.signalUnknownCredential || typeof rpId !== 'string' || typeof credentialId !== 'string') return;
  pkc.signalUnknownCredential({ rpId, credentialId }).catch(() => undefined);
}

/**
 * Whether this browser can use passkeys at all (WebAuthn present). Whether the user has one for
 * this site is only known by asking (signInWithPasskey).
 *
 * @example
 * {passkeysSupported() ? <button onClick={() => auth.signInWithPasskey()}>Sign in with a passkey</button> : null}
 */
export function passkeysSupported(): boolean {
  return browserWebAuthn() !== null;
}

/**
 * Whether this browser can offer passkeys in a field's autofill (WebAuthn conditional mediation:
 * `PublicKeyCredential.isConditionalMediationAvailable()`, Chrome 108+, Safari 16+, Firefox 119+).
 * {@link LatchkeyClient.signInWithPasskeyAutofill} asks this itself; a page needs it only to
 * decide what to show.
 *
 * @example
 * if (await passkeyAutofillSupported()) hint.textContent = 'Pick a passkey from the email field';
 */
export async function passkeyAutofillSupported(): Promise<boolean> {
  return browserWebAuthn() !== null && (await conditionalMediationAvailable());
}

/**
 * `PublicKeyCredential.isConditionalMediationAvailable()`, false where absent or failing.
 *
 * @example
 * if (await conditionalMediationAvailable()) startAutofill();
 */
export async function conditionalMediationAvailable(): Promise<boolean> {
  const pkc = (globalThis as { PublicKeyCredential?: { isConditionalMediationAvailable?: () => Promise<boolean> } }).PublicKeyCredential;
  if (typeof pkc?.isConditionalMediationAvailable !== 'function') return false;
  try {
    return (await pkc.isConditionalMediationAvailable()) === true;
  } catch {
    return false;
  }
}
