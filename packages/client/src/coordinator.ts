import type { SignOutReason, User } from './types.js';

/** What tabs tell each other over the BroadcastChannel. Only same-origin scripts can listen. */
export type TabMessage =
  | { type: 'tokens'; from: string; reason: 'login' | 'refresh'; access_token: string; expires_at: number; lifetime_ms: number; user: User | null }
  | { type: 'signed_out'; from: string; reason: SignOutReason | null }
  | { type: 'user'; from: string; user: User }
  | { type: 'claim'; from: string }
  | { type: 'release'; from: string };

type WithoutSender<M> = M extends unknown ? Omit<M, 'from'> : never;
type Outgoing = WithoutSender<TabMessage>;

/**
 * Cross-tab coordination: one refresh at a time across every tab of the origin, and a channel to
 * share its result. Uses the Web Locks API; without it, a BroadcastChannel mutex (best effort).
 */
export interface Coordinator {
  readonly id: string;
  /**
   * Runs `task` while no other tab (or client) runs one under the same name. `contended` is
   * true when another holder had to be waited for: it probably just did the same work.
   */
  exclusive<T>(task: (contended: boolean) => Promise<T>): Promise<T>;
  broadcast(message: Outgoing): void;
  subscribe(handler: (message: TabMessage) => void): () => void;
  close(): void;
}

interface LockManagerLike {
  request<T>(name: string, callback: (lock: unknown) => Promise<T>): Promise<T>;
  request<T>(name: string, options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<T>): Promise<T>;
}

type Attempt<T> = { ran: true; value: T } | { ran: false };

async function exclusiveByLocks<T>(locks: LockManagerLike, name: string, task: (contended: boolean) => Promise<T>): Promise<T> {
  // First without queueing: a lock that is free now means nobody else is refreshing.
  const first = await locks.request<Attempt<T>>(name, { ifAvailable: true }, async (lock) =>
    lock ? { ran: true, value: await task(false) } : { ran: false },
  );
  if (first.ran) return first.value;
  return locks.request<T>(name, () => task(true));
}

function webLocks(): LockManagerLike | null {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks && typeof nav.locks.request === 'function' ? nav.locks : null;
}

function randomId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// A claim must be seen by every tab before its owner proceeds; same-browser delivery takes
// well under this. A holder that vanished (tab closed) is forgotten after HOLD_TIMEOUT_MS.
const SETTLE_MS = 40;
const HOLD_TIMEOUT_MS = 15_000;

export function createCoordinator(name: string): Coordinator {
  const id = randomId();
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(name) : null;
  // Node keeps the process alive for an open channel; a browser has no unref.
  (channel as { unref?: () => void } | null)?.unref?.();
  const handlers = new Set<(message: TabMessage) => void>();
  const locks = webLocks();
  const lockName = `${name}:refresh`;

  // --- fallback mutex state (only used without Web Locks) ---
  const remoteHolders = new Map<string, number>(); // tab id -> forget-after (epoch ms)
  let claiming: { rivals: Set<string> } | null = null;
  let wake: (() => void) | null = null;
  let localChain: Promise<unknown> = Promise.resolve();

  const post = (message: TabMessage) => channel?.postMessage(message);

  if (channel) {
    channel.onmessage = (event: MessageEvent<TabMessage>) => {
      const message = event.data;
      if (!message || typeof message !== 'object' || message.from === id) return;
      if (message.type === 'claim') {
        remoteHolders.set(message.from, Date.now() + HOLD_TIMEOUT_MS);
        claiming?.rivals.add(message.from);
        return;
      }
      if (message.type === 'release') {
        remoteHolders.delete(message.from);
        wake?.();
        return;
      }
      for (const handler of handlers) handler(message);
    };
  }

  function liveHolder(): number | null {
    const now = Date.now();
    let soonest: number | null = null;
    for (const [holder, until] of remoteHolders) {
      if (until <= now) remoteHolders.delete(holder);
      else soonest = soonest === null ? until : Math.min(soonest, until);
    }
    return soonest;
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = null;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(timer);
        wake = null;
        resolve();
      };
    });

  /** Resolves when this tab holds the channel mutex; true when it had to wait for another tab. */
  async function acquireByChannel(): Promise<boolean> {
    let contended = false;
    for (;;) {
      let until = liveHolder();
      while (until !== null) {
        contended = true;
        await sleep(until - Date.now());
        until = liveHolder();
      }
      claiming = { rivals: new Set() };
      post({ type: 'claim', from: id });
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const rivals = claiming.rivals;
      claiming = null;
      // Simultaneous claims: the smallest id wins, everyone else withdraws and waits.
      const lost = [...rivals].some((rival) => rival < id);
      if (!lost) {
        for (const rival of rivals) remoteHolders.delete(rival);
        return contended;
      }
      contended = true;
      post({ type: 'release', from: id });
    }
  }

  async function exclusiveByChannel<T>(task: (contended: boolean) => Promise<T>): Promise<T> {
    const contended = await acquireByChannel();
    try {
      return await task(contended);
    } finally {
      post({ type: 'release', from: id });
    }
  }

  return {
    id,
    exclusive<T>(task: (contended: boolean) => Promise<T>): Promise<T> {
      if (locks) return exclusiveByLocks(locks, lockName, task);
      if (!channel) return task(false);
      // Serialise this tab's own callers first, then race the other tabs.
      const run = localChain.then(() => exclusiveByChannel(task));
      localChain = run.catch(() => undefined);
      return run;
    },
    broadcast(message) {
      post({ ...message, from: id } as TabMessage);
    },
    subscribe(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    close() {
      handlers.clear();
      wake?.();
      channel?.close();
    },
  };
}
