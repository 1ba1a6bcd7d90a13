import type { User } from './types.js';
import { conditionalMediationAvailable, getAssertion, type WebAuthnApi } from './webauthn.js';

type Json = Record<string, unknown>;

/** What the autofill needs from the client: the WebAuthn API, the options route, the sign-in. */
export interface AutofillDeps {
  webauthn(): WebAuthnApi | null;
  /** POST /auth/passkeys/login/options: a fresh challenge (each round needs its own). */
  options(): Promise<Json>;
  /** POST /auth/passkeys/login/verify with a picked passkey's assertion, and the sign-in. */
  signIn(assertion: Json, options: Json): Promise<User>;
  signedIn(): boolean;
}

export interface PasskeyCeremonies {
  /**
   * Runs a modal WebAuthn ceremony (a passkey button, the second factor, registering). A browser
   * holds one WebAuthn request per page and refuses a second ("A request is already pending"),
   * so the pending autofill request is aborted, and settled, first; it starts again when the
   * modal ceremony has ended without a sign-in.
   */
  modal<T>(run: () => Promise<T>): Promise<T>;
  autofill(signal?: AbortSignal): Promise<User | null>;
  /** Ends the autofill (it resolves null): a session started, or the client closed. */
  stopAutofill(): void;
}

/**
 * A conditional request is started again before its challenge expires on the server (the options'
 * `timeout`, 5 minutes): browsers keep it pending for as long as the page is open, and a passkey
 * picked after the challenge expired would be refused.
 */
function rearmAfterMs(options: Json): number {
  const timeout = typeof options.timeout === 'number' && options.timeout > 0 ? options.timeout : 300_000;
  return Math.max(1_000, timeout * 0.9);
}

/**
 * The client's passkey requests: modal ones (which take over) and the autofill (which waits for
 * them, re-arms, and ends at a sign-in). One per client.
 *
 * @example
 * const ceremonies = createPasskeyCeremonies({ webauthn, options, signIn, signedIn });
 * const user = await ceremonies.autofill(stop.signal);          // null unless a picked passkey signed in
 * await ceremonies.modal(() => getAssertion(webauthn(), options)); // aborts the autofill's request first
 */
export function createPasskeyCeremonies(deps: AutofillDeps): PasskeyCeremonies {
  /** Settles when the running modal ceremony has ended; null when none runs. */
  let modalRunning: Promise<void> | null = null;
  /** The browser request of the autofill now pending, and its settling. */
  let round: { controller: AbortController; settled: Promise<unknown> } | null = null;
  /** The current autofill call: one per client, a new call ends the previous one. */
  let current: AbortController | null = null;

  async function modal<T>(run: () => Promise<T>): Promise<T> {
    let done!: () => void;
    const gate = new Promise<void>((resolve) => (done = resolve));
    // Set before aborting, so that the autofill loop waits instead of starting a new round.
    modalRunning = gate;
    try {
      const pending = round;
      if (pending) {
        pending.controller.abort();
        await pending.settled;
      }
      return await run();
    } finally {
      if (modalRunning === gate) modalRunning = null;
      done();
    }
  }

  async function autofill(signal?: AbortSignal): Promise<User | null> {
    const api = deps.webauthn();
    if (api === null || !(await conditionalMediationAvailable())) return null;
    current?.abort();
    const mine = new AbortController();
    current = mine;
    const onAbort = () => mine.abort();
    if (signal?.aborted) mine.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      while (!mine.signal.aborted && !deps.signedIn()) {
        if (modalRunning) {
          await modalRunning;
          continue;
        }
        let options: Json;
        try {
          options = await deps.options();
        } catch {
          // Refused (rate limited) or unreachable: no autofill on this page; the button still
          // works and reports its own errors.
          return null;
        }
        if (mine.signal.aborted || modalRunning) continue;
        const controller = new AbortController();
        const stop = () => controller.abort();
        mine.signal.addEventListener('abort', stop, { once: true });
        const timer = setTimeout(stop, rearmAfterMs(options));
        const request = getAssertion(api, options, { mediation: 'conditional', signal: controller.signal });
        round = { controller, settled: request.catch(() => undefined) };
        let assertion: Json;
        try {
          assertion = await request;
        } catch {
          // Aborted by us (a modal ceremony, the re-arm timer, the caller): the loop decides.
          // Ended by the browser itself: it offers no autofill here (Chrome's automation answers
          // NotAllowedError at once when its virtual authenticator holds no passkey).
          if (controller.signal.aborted) continue;
          return null;
        } finally {
          clearTimeout(timer);
          mine.signal.removeEventListener('abort', stop);
          round = null;
        }
        if (mine.signal.aborted || deps.signedIn()) return null;
        return await deps.signIn(assertion, options);
      }
      return null;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (current === mine) current = null;
    }
  }

  return {
    modal,
    autofill,
    stopAutofill() {
      current?.abort();
    },
  };
}
