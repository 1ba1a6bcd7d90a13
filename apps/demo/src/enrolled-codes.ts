import { useSyncExternalStore } from 'react';

/**
 * The recovery codes of an enrolment at sign-in (MFA_REQUIRED_ROLES), carried in memory from the
 * sign-in page, which the signed-in pages replace at once, to the Security page, which shows them
 * once. Bound to the user they belong to: another account signed in in this tab never sees them.
 * Never stored: a reload drops them (the user can generate new ones on the Security page).
 * Subscribable: the Security page may mount before the sign-in's last step has kept them.
 */
let pending: { userId: string; codes: string[] } | null = null;
const listeners = new Set<() => void>();

function changed(): void {
  for (const listener of listeners) listener();
}

/** Keeps `codes` for `userId` until the Security page has shown them. */
export function keepRecoveryCodes(userId: string, codes: string[]): void {
  pending = { userId, codes };
  changed();
}

/** Forgets the kept codes (they were shown and the user said they saved them). */
export function forgetRecoveryCodes(): void {
  pending = null;
  changed();
}

/** The codes kept for `userId`, or null; re-renders when they are kept or forgotten. */
export function useKeptRecoveryCodes(userId: string | undefined): string[] | null {
  const kept = useSyncExternalStore(
    (onChange) => {
      listeners.add(onChange);
      return () => listeners.delete(onChange);
    },
    () => pending,
  );
  return kept && kept.userId === userId ? kept.codes : null;
}
