import { readdirSync, readFileSync } from 'node:fs';

/**
 * The nice value of every thread of a process (Linux /proc), by thread id. Fields after the ")"
 * of the command name: state is field 3, nice is field 19. A thread that ends between the
 * listing and the read is left out.
 */
export function niceByThread(pid = process.pid): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      out.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}
