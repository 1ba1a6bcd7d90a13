import { useSyncExternalStore } from 'react';

/**
 * When the server will delete the account whose deletion was just asked for (ACCOUNT_DELETION_GRACE):
 * carried in memory from the profile page, which the sign-in page replaces as soon as the SDK has
 * signed out, to the sign-in page, which says until when signing in cancels it. A reload drops it
 * (the sign-in page then says the deletion was scheduled, without the date).
 */
let deletesAt: string | null = null;
const listeners = new Set<() => void>();

/** Keeps the time the account will be deleted at (an ISO string), or null to forget it. */
export function keepScheduledDeletion(at: string | null): void {
  deletesAt = at;
  for (const listener of listeners) listener();
}

/** The kept time, or null; re-renders when it is kept or forgotten. */
export function useScheduledDeletion(): string | null {
  return useSyncExternalStore(
    (onChange) => {
      listeners.add(onChange);
      return () => listeners.delete(onChange);
    },
    () => deletesAt,
  );
}
