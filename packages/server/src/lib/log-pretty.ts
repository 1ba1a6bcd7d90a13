import type { DestinationStream } from 'pino';

/** pino's numeric levels, as a person reads them (padded so that messages line up). */
const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};

/** Keys of pino's line that the pretty line shows in its own places, or not at all. */
const PLACED = new Set(['level', 'time', 'msg', 'hostname', 'pid']);

/** A string value that `key=value` can show bare: no spaces, quotes, `=`, control characters, not empty. */
const BARE = /^[^\s"=\\\u0000-\u001f\u007f\u2028\u2029]+$/;

export interface PrettyOptions {
  /** Keep the `pid` field (several worker processes share one terminal). Default false. */
  pid?: boolean;
}

const two = (n: number) => String(n).padStart(2, '0');

/** Local time, to the millisecond: `2026-12-05 10:34:06.123`. */
function localTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function scalar(value: unknown): string {
  if (typeof value === 'string') return BARE.test(value) ? value : JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return JSON.stringify(value);
}

/** `key=value` for each field; objects one level at a time with dotted keys (`err.message=…`). */
function appendFields(out: string[], prefix: string, obj: Record<string, unknown>, depth: number): void {
  for (const key in obj) {
    const value = obj[key];
    if (value === undefined) continue;
    const name = prefix + key;
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && depth < 3) {
      appendFields(out, `${name}.`, value as Record<string, unknown>, depth + 1);
    } else {
      out.push(`${name}=${scalar(value)}`);
    }
  }
}

/**
 * One of pino's JSON lines as a person reads it: time, level, message, then `key=value` fields,
 * on one line; an error's stack (`err.stack`) follows on indented lines. A line that is not
 * JSON is returned as it came.
 *
 * It formats what pino already wrote, so the redaction applied to the JSON line
 * (lib/log-redaction.ts) is exactly the redaction of the pretty line.
 *
 * @example
 * prettyLogLine('{"level":30,"time":1764930846123,"pid":1,"hostname":"h","status":400,"msg":"request"}\n');
 * // => '2025-12-05 10:34:06.123 INFO  request status=400\n' (in the machine's time zone)
 */
export function prettyLogLine(line: string, options: PrettyOptions = {}): string {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return line;
  const obj = entry as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof obj.time === 'number') parts.push(localTime(obj.time));
  if (typeof obj.level === 'number') parts.push(LEVEL_NAMES[obj.level] ?? `L${obj.level}`);
  if (options.pid && obj.pid !== undefined) parts.push(`[${scalar(obj.pid)}]`);
  // A message stays as written, unless a line break in it would split the line.
  if (typeof obj.msg === 'string') parts.push(/[\u0000-\u001f\u2028\u2029]/.test(obj.msg) ? JSON.stringify(obj.msg) : obj.msg);
  let stack: string | undefined;
  const fields: Record<string, unknown> = {};
  for (const key in obj) {
    if (PLACED.has(key)) continue;
    const value = obj[key];
    if (key === 'err' && value !== null && typeof value === 'object' && typeof (value as { stack?: unknown }).stack === 'string') {
      const { stack: s, ...rest } = value as Record<string, unknown>;
      stack = s as string;
      fields[key] = rest;
    } else {
      fields[key] = value;
    }
  }
  appendFields(parts, '', fields, 0);
  let out = parts.join(' ');
  if (stack !== undefined) out += `\n${stack.replace(/^/gm, '    ')}`;
  return `${out}\n`;
}

/**
 * A pino destination that writes each line as `prettyLogLine` shows it to the stream under it
 * (`LOG_FORMAT=pretty`, for a person at a terminal). In-process and synchronous: no worker
 * thread, nothing buffered here (the stream under it batches). JSON, the default off a
 * terminal, never goes through it.
 *
 * @example
 * const log = pino({}, new PrettyLogDestination(stdoutLogDestination()));
 * log.info({ status: 200 }, 'request'); // 2026-12-05 10:34:06.123 INFO  request status=200
 */
export class PrettyLogDestination implements DestinationStream {
  constructor(
    private readonly target: DestinationStream & { flushSync?(): void },
    private readonly options: PrettyOptions = {},
  ) {}

  write(line: string): void {
    this.target.write(prettyLogLine(line, this.options));
  }

  /** Flushes the stream under it, if it can (pino.final, exit handlers). */
  flushSync(): void {
    this.target.flushSync?.();
  }
}
