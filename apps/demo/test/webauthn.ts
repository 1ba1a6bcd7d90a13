/**
 * WebAuthn in the demo's Chromium tests: a CDP virtual authenticator, and a recorder of the page's
 * navigator.credentials.get() calls (to wait for the passkey autofill's conditional request).
 */
import type { BrowserContext, CDPSession, Page } from 'playwright-core';

/**
 * A virtual platform authenticator for this tab: discoverable credentials, verifies the user.
 * Chrome's automation answers every request at once, a conditional (autofill) one included: it
 * picks a credential itself, with no autofill shown. `presence(false)` makes the authenticator
 * wait instead (a request sent to it then stays pending, as an autofill does until the user
 * picks); requests already waiting are not released by `presence(true)`, new ones are answered.
 */
export async function virtualAuthenticator(
  context: BrowserContext,
  page: Page,
): Promise<{ cdp: CDPSession; authenticatorId: string; presence(on: boolean): Promise<void> }> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  const presence = async (on: boolean) => {
    await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: on });
  };
  return { cdp, authenticatorId, presence };
}

export interface WebAuthnRequest {
  mediation: string;
  outcome: string;
}

/**
 * Records the page's navigator.credentials.get() calls (mediation, and how each ended), passing
 * every call through to the browser unchanged.
 */
export async function recordWebAuthnRequests(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const log: { mediation: string; outcome: string }[] = [];
    (window as unknown as { webauthnRequests: typeof log }).webauthnRequests = log;
    const get = navigator.credentials.get.bind(navigator.credentials);
    navigator.credentials.get = (options?: CredentialRequestOptions) => {
      const entry = { mediation: options?.mediation ?? 'optional', outcome: 'pending' };
      log.push(entry);
      return get(options).then(
        (credential) => {
          entry.outcome = 'resolved';
          return credential;
        },
        (error: unknown) => {
          entry.outcome = (error as { name?: string } | null)?.name ?? 'rejected';
          throw error;
        },
      );
    };
  });
}

export function webauthnRequests(page: Page): Promise<WebAuthnRequest[]> {
  return page.evaluate(() => [...(window as unknown as { webauthnRequests: WebAuthnRequest[] }).webauthnRequests]);
}

/** Waits until the sign-in page's passkey autofill (a conditional request) is pending. */
export async function autofillPending(page: Page): Promise<void> {
  await until('the conditional request', async () => (await webauthnRequests(page)).some((r) => r.mediation === 'conditional' && r.outcome === 'pending'));
}

/** Polls until `check` holds (no fixed sleep): the page's requests, the proxy's exchanges. */
export async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 150; i += 1) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
