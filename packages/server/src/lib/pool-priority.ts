import { readFile } from 'node:fs/promises';
import { setPriority } from 'node:os';

/**
 * How many threads libuv's pool has, read from UV_THREADPOOL_SIZE the way libuv 1.46 does
 * (`atoi`; 0 becomes 1; past 1024, or negative, 1024); 4 when unset.
 */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.UV_THREADPOOL_SIZE;
  if (raw === undefined) return 4;
  const n = Number.parseInt(raw.trim(), 10) || 0;
  if (n === 0) return 1;
  return n < 0 || n > 1024 ? 1024 : n;
}

/**
 * Lowers the CPU priority (Linux `nice`, per thread) of every thread of libuv's pool, and
 * resolves to their thread ids (empty where it cannot: not Linux, no /proc).
 *
 * The pool's threads are found through the pool itself: an asynchronous read of
 * /proc/thread-self/stat is opened on a pool thread, and the first field of that file is the
 * id of the thread that opened it. Reads go out in rounds until every one of the pool's fixed
 * number of threads has answered (one round in practice: the idle threads all wake up), or the
 * deadline passes; the threads found by then are reniced. Resolves to the ids of the threads
 * whose priority was lowered. Never throws.
 *
 * Why (see docs/benchmarks.md, scenario (c)): on a machine whose cores are all busy, a
 * signature handed to the pool wakes a pool thread that preempts the event loop; below the
 * event loop's priority it waits for the loop to block instead, and the loop turns faster.
 */
export async function lowerThreadPoolPriority(nice: number, deadlineMs = 2000): Promise<number[]> {
  if (process.platform !== 'linux') return [];
  const size = threadPoolSize();
  const found = new Set<number>();
  const until = Date.now() + deadlineMs;
  try {
    while (found.size < size && Date.now() < until) {
      const stats = await Promise.all(Array.from({ length: size * 4 }, () => readFile('/proc/thread-self/stat', 'latin1')));
      for (const stat of stats) {
        const tid = Number(stat.slice(0, stat.indexOf(' ')));
        if (Number.isInteger(tid) && tid > 0 && tid !== process.pid) found.add(tid);
      }
    }
  } catch {
    return []; // no /proc/thread-self
  }
  const lowered: number[] = [];
  for (const tid of found) {
    try {
      setPriority(tid, nice);
      lowered.push(tid);
    } catch {
      // not permitted (e.g. a seccomp profile): that thread keeps its priority
    }
  }
  return lowered;
}
