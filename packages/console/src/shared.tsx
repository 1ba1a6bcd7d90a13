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

/**
 * A secret shown once (at creation or rotation) with a copy button: the server never shows it
 * again, so the page says so until the admin dismisses it.
 */
export function SecretOnce(props: { label: string; testId: string; secret: string; onDone: () => void; note?: string }): ReactNode {
  const [copied, setCopied] = useState(false);
  const copy = () =>
    void navigator.clipboard.writeText(props.secret).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  return (
    <div className="alert alert-warn secret-once" role="status">
      <p>
        <strong>{props.label}</strong> — copy it now: it is not shown again.{props.note ? ` ${props.note}` : ''}
      </p>
      <p>
        <code data-testid={props.testId} className="secret-value">
          {props.secret}
        </code>
      </p>
      <div className="form-actions">
        <button type="button" className="button-quiet" onClick={copy}>
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" className="button-quiet" onClick={props.onDone}>
          I have saved it
        </button>
      </div>
    </div>
  );
}

/**
 * Previous / Next over cursor pages: `cursors` holds the cursor of each page visited (null = the
 * first), the last one is the page shown.
 */
export function Pager(props: {
  cursors: Array<string | null>;
  nextCursor: string | null | undefined;
  loading: boolean;
  onCursors: (next: Array<string | null>) => void;
  testId?: string;
}): ReactNode {
  const { cursors, nextCursor, loading, onCursors } = props;
  return (
    <nav className="pager" aria-label="Pages">
      <span className="muted" data-testid={props.testId}>
        Page {cursors.length}
        {loading ? ' · loading…' : ''}
      </span>
      <div className="pager-buttons">
        <button type="button" className="button-quiet" onClick={() => onCursors(cursors.slice(0, -1))} disabled={cursors.length === 1 || loading}>
          Previous
        </button>
        <button type="button" className="button-quiet" onClick={() => nextCursor && onCursors([...cursors, nextCursor])} disabled={!nextCursor || loading}>
          Next
        </button>
      </div>
    </nav>
  );
}

/**
 * A section with one action behind a confirmation (a deletion, a rotation): its title and what it
 * does, the button, then the question with the confirming button and Cancel (focused, so Enter
 * does not act by accident).
 */
export function ConfirmAction(props: {
  title: string;
  description: string;
  /** The first button: "Delete…". */
  label: string;
  /** The question, in full: what goes, and what follows from it. */
  question: ReactNode;
  /** The confirming button: "Delete client". */
  confirm: string;
  busy: boolean;
  onConfirm: () => void;
  /** `button-danger` for a removal (default), `button-quiet` for a lesser action. */
  className?: string;
}): ReactNode {
  const [asking, setAsking] = useState(false);
  return (
    <>
      <div className="danger-zone">
        <div>
          <h2>{props.title}</h2>
          <p className="muted">{props.description}</p>
        </div>
        {asking ? null : (
          <button type="button" className={props.className ?? 'button-danger'} disabled={props.busy} onClick={() => setAsking(true)}>
            {props.label}
          </button>
        )}
      </div>
      {asking ? (
        <div className="confirm" role="alertdialog" aria-label={props.confirm}>
          <p>{props.question}</p>
          <div className="form-actions">
            <button
              type="button"
              className="button-danger-solid"
              disabled={props.busy}
              onClick={() => {
                setAsking(false);
                props.onConfirm();
              }}
            >
              {props.confirm}
            </button>
            <button type="button" className="button-quiet" autoFocus disabled={props.busy} onClick={() => setAsking(false)}>
              Cancel
            </button>
          </div>
        </div>
      ) : null}
    </>
  );
}

/**
 * A page's actions, one at a time: `busy` names the running one (its button says so, the others
 * wait); the text it resolves to becomes the page's success flash, a failure the page's `error`,
 * or goes to `onError` (a form's own error, shown by field).
 *
 * @example
 * const { busy, error, flash, act } = usePageActions();
 * <button disabled={busy !== null} onClick={() => void act('test', async () => { await api.sendTestWebhook(id); return 'Sent.'; })}>Test</button>
 */
export function usePageActions(initialFlash: Flash | null = null) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [flash, setFlash] = useState<Flash | null>(initialFlash);
  const act = async (name: string, fn: () => Promise<string | null>, onError: (e: unknown) => void = setError) => {
    setBusy(name);
    setError(null);
    onError(null);
    setFlash(null);
    try {
      const text = await fn();
      if (text) setFlash({ kind: 'success', text });
    } catch (e) {
      onError(e);
    } finally {
      setBusy(null);
    }
  };
  return { busy, error, setError, flash, act };
}

/** A detail page before its record arrived: the way back, and the loading line or the failure. */
export function LoadingCard({ back, error }: { back: ReactNode; error: unknown }): ReactNode {
  return (
    <section className="card admin">
      {back}
      {error ? (
        <ErrorMessage error={error} />
      ) : (
        <p className="muted" role="status">
          Loading…
        </p>
      )}
    </section>
  );
}

/** A table's header row; `actions` adds the last column of row buttons (named for screen readers only). */
export function TableHead({ columns, actions = false }: { columns: readonly string[]; actions?: boolean }): ReactNode {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th key={c} scope="col">
            {c}
          </th>
        ))}
        {actions ? (
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        ) : null}
      </tr>
    </thead>
  );
}
