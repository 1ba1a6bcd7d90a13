import { LatchkeyError } from '@latchkey/client';
import { useEffect, useState, type ReactNode } from 'react';

/** A one-time message carried from one console page to the next (e.g. "deleted" to the table). */
export interface Flash {
  kind: 'success' | 'error';
  text: string;
}

/**
 * Takes over a flash handed down by the console area when the page mounts, and tells the area it
 * was shown (so it is not shown again on the next visit).
 */
export function useFlash(flash: Flash | null, onShown: () => void): [Flash | null, (f: Flash | null) => void] {
  const [shown, setShown] = useState<Flash | null>(flash);
  useEffect(() => {
    if (flash) onShown();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps -- once, on mount
  return [shown, setShown];
}

/** A message for an admin API call that failed: the server's own `detail`, or its field errors (each names its field). */
export function problemText(error: unknown): string {
  if (error instanceof LatchkeyError) {
    if (error.code === 'VALIDATION_FAILED' && error.errors.length > 0) {
      return error.errors.map((e) => e.message).join(' ');
    }
    if (error.code === 'NETWORK_ERROR') return 'The server could not be reached. Check your connection.';
    return error.message;
  }
  return 'Something went wrong.';
}

export function FlashMessage({ flash }: { flash: Flash | null }): ReactNode {
  if (!flash) return null;
  return (
    <p className={`alert alert-${flash.kind}`} role={flash.kind === 'error' ? 'alert' : 'status'}>
      {flash.text}
    </p>
  );
}

export function ErrorMessage({ error }: { error: unknown }): ReactNode {
  if (!error) return null;
  return (
    <p className="alert alert-error" role="alert">
      {problemText(error)}
    </p>
  );
}

/** "3 minutes ago" style, for last-active columns; falls back to the date for old times. */
export function formatAgo(iso: string, now = Date.now()): string {
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  return days < 30 ? `${days} d ago` : new Date(iso).toLocaleDateString();
}

/** Debounces a value: the returned one follows `value` after `ms` of quiet. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}
