import { expect } from 'vitest';
import { LatchkeyError, type AuthEvent, type AuthState, type LatchkeyClient } from '../src/index.js';

/** Shared by the SDK's test files: channels, addresses, and waiting for a client's state. */

export const PASSWORD = 'correct horse battery staple';
export const MINUTE = 60_000;

let channelCounter = 0;

/** A BroadcastChannel name no other test uses: clients on it are the "tabs" of one browser. */
export function newChannel(): string {
  channelCounter += 1;
  return `latchkey-test-${process.pid}-${channelCounter}`;
}

export function newEmail(): string {
  return `sdk-${Math.random().toString(36).slice(2)}@example.com`;
}

export function recordEvents(client: LatchkeyClient): AuthEvent[] {
  const events: AuthEvent[] = [];
  client.onAuthChange((_state, event) => events.push(event));
  return events;
}

export function waitForState(client: LatchkeyClient, predicate: (s: AuthState) => boolean): Promise<AuthState> {
  if (predicate(client.getState())) return Promise.resolve(client.getState());
  return new Promise((resolve) => {
    const off = client.onAuthChange((state) => {
      if (predicate(state)) {
        off();
        resolve(state);
      }
    });
  });
}

/** A clock the test can move forward for the client (the server's is stepped separately). */
export function skewableClock(): { now: () => number; skip(ms: number): void } {
  let skew = 0;
  return { now: () => Date.now() + skew, skip: (ms) => (skew += ms) };
}

/** The LatchkeyError a promise rejects with (the test fails if it resolves or rejects with anything else). */
export async function rejection(promise: Promise<unknown>): Promise<LatchkeyError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LatchkeyError);
  return error as LatchkeyError;
}
