/**
 * Progress on stderr: on a terminal a bar redrawn in place (at most ten times a second);
 * otherwise (a pipe, a CI log) one plain line every `intervalMs`, so logs stay readable.
 */

export interface ProgressStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressState {
  /** Records handled so far. */
  rows: number;
  /** Bytes of input consumed, and the total; 0 total when unknown (export). */
  bytes: number;
  totalBytes: number;
  /** e.g. "12 failed"; appended as is. */
  detail?: string;
}

const REDRAW_MS = 100;

function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export class ProgressReporter {
  private readonly tty: boolean;
  private readonly started: number;
  /** Starts at construction: a run shorter than one interval prints only its final state. */
  private lastDraw: number;
  private drawn = false;

  constructor(
    private readonly stream: ProgressStream,
    private readonly label: string,
    private readonly options: { intervalMs?: number; now?: () => number } = {},
  ) {
    this.tty = stream.isTTY === true;
    this.started = this.now();
    this.lastDraw = this.started;
  }

  private now(): number {
    return (this.options.now ?? performance.now.bind(performance))();
  }

  update(state: ProgressState): void {
    const t = this.now();
    const every = this.tty ? REDRAW_MS : (this.options.intervalMs ?? 2000);
    if (t - this.lastDraw < every) return;
    this.lastDraw = t;
    this.draw(state, t);
  }

  /** Draws the final state; ends the terminal line. */
  done(state: ProgressState): void {
    this.draw(state, this.now());
    if (this.tty && this.drawn) this.stream.write('\n');
  }

  private draw(state: ProgressState, t: number): void {
    const seconds = Math.max((t - this.started) / 1000, 0.001);
    const rate = `${formatCount(Math.round(state.rows / seconds))} rows/s`;
    const fraction = state.totalBytes > 0 ? Math.min(state.bytes / state.totalBytes, 1) : null;
    const percent = fraction === null ? '' : `${Math.floor(fraction * 100)}%`;
    const detail = state.detail ? `  ${state.detail}` : '';
    if (this.tty) {
      const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - 60));
      const bar =
        fraction === null ? '' : `[${'#'.repeat(Math.round(fraction * width)).padEnd(width, '.')}] ${percent.padStart(4)} `;
      this.stream.write(`\r\x1b[2K${this.label} ${bar}${formatCount(state.rows)} rows  ${rate}${detail}`);
    } else {
      const pct = fraction === null ? '' : ` (${percent} of the file)`;
      this.stream.write(`${this.label}: ${formatCount(state.rows)} rows${pct}, ${rate}${detail}\n`);
    }
    this.drawn = true;
  }
}
