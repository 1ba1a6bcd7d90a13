/**
 * Splits a JSON source into records, line by line, without loading the file:
 * - a sequence of documents: JSON lines, or `mongoexport --pretty` (one document over many lines);
 * - a JSON array of documents (`mongoexport --jsonArray`, on one line or pretty-printed);
 * - a JSON object whose members are the records (`kv`: keyed by email).
 *
 * Each record carries the line it starts on. A record that does not parse is reported at its line
 * and the rest continue. In a document sequence a record left unterminated (a truncated line)
 * ends at the next line that starts with `{` in column 0, so one bad line never swallows the file.
 */
import type { SourceRecord } from './types.js';

const QUOTE = 34; // "
const BACKSLASH = 92;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const COMMA = 44;
const COLON = 58;

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10 || c === 0xfeff;
}

/** Never echo the text: a record holds a password hash. The position is enough to find the fault. */
function parseFailure(err: unknown): string {
  const pos = err instanceof Error ? /position (\d+)/.exec(err.message) : null;
  return pos ? `malformed JSON (at character ${Number(pos[1]) + 1} of the record)` : 'malformed JSON';
}

type Mode = 'start' | 'seq' | 'array' | 'object' | 'done';

export class JsonRecordSplitter {
  private mode: Mode = 'start';
  // the value being captured
  private capturing = false;
  private captureIsKey = false;
  private scalar = false;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private parts: string[] = [];
  private segStart = 0;
  private startLine = 0;
  // object container (`kv`)
  private expect: 'key' | 'colon' | 'value' = 'key';
  private key: string | undefined;
  /** After a broken record in a document sequence: skip lines until one starts with `{`. */
  private resyncing = false;
  private trailingReported = false;
  private out: SourceRecord[] = [];

  /** @param container `object` for a top-level object keyed by email; `auto` detects an array or a sequence. */
  constructor(private readonly container: 'auto' | 'object') {}

  /** Feeds one line (without its newline); returns the records completed by it. */
  push(line: string, lineNo: number): SourceRecord[] {
    this.out = [];
    if (this.mode === 'seq' && (this.capturing || this.resyncing)) {
      if (line.charCodeAt(0) === OPEN_BRACE) {
        if (this.capturing) this.fail(`unterminated JSON document starting at line ${this.startLine}`);
        this.resyncing = false;
      } else if (this.resyncing) {
        return this.out;
      }
    }
    if (this.mode === 'seq' && !this.capturing && this.fastPath(line, lineNo)) return this.out;
    this.scan(line, lineNo);
    if (this.capturing) {
      if (this.inString) {
        // JSON strings cannot span lines: this record is broken.
        if (this.mode === 'seq') {
          this.fail('malformed JSON (a string is not closed on its line)');
          this.resyncing = true;
        } else {
          this.fail('malformed JSON (a string is not closed on its line); the rest of the file is not read');
          this.mode = 'done';
          this.trailingReported = true;
        }
      } else if (this.scalar) {
        this.finish(line, line.length);
      } else {
        this.parts.push(line.slice(this.segStart));
        this.segStart = 0;
      }
    }
    return this.out;
  }

  /** Call at the end of the input; returns a failure for anything left open. */
  end(lastLine: number): SourceRecord[] {
    this.out = [];
    if (this.capturing) this.fail(`unterminated JSON value starting at line ${this.startLine}`);
    if (this.mode === 'array') this.out.push({ line: lastLine, error: 'the JSON array is not closed (file truncated?)' });
    if (this.mode === 'object') this.out.push({ line: lastLine, error: 'the JSON object is not closed (file truncated?)' });
    if (this.mode === 'start' && this.container === 'object') {
      this.out.push({ line: lastLine, error: 'expected a JSON object keyed by email; the file is empty' });
    }
    return this.out;
  }

  /** A whole document on its own line (the common JSON-lines case): one JSON.parse, no scanning. */
  private fastPath(line: string, lineNo: number): boolean {
    const text = line.trim();
    if (text.charCodeAt(0) !== OPEN_BRACE || text.charCodeAt(text.length - 1) !== CLOSE_BRACE) return false;
    try {
      this.out.push({ line: lineNo, value: JSON.parse(text) as unknown });
      return true;
    } catch {
      return false;
    }
  }

  private scan(line: string, lineNo: number): void {
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      if (this.capturing) {
        if (this.inString) {
          if (this.escaped) this.escaped = false;
          else if (c === BACKSLASH) this.escaped = true;
          else if (c === QUOTE) {
            this.inString = false;
            if (this.depth === 0) this.finish(line, i + 1);
          }
        } else if (this.scalar) {
          if (isSpace(c) || c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || c === COLON) {
            this.finish(line, i);
            i--;
          }
        } else if (c === QUOTE) this.inString = true;
        else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
        else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
          this.depth--;
          if (this.depth === 0) this.finish(line, i + 1);
        }
        continue;
      }
      if (isSpace(c)) continue;
      switch (this.mode) {
        case 'start':
          if (this.container === 'object') {
            if (c === OPEN_BRACE) {
              this.mode = 'object';
              this.expect = 'key';
            } else {
              this.out.push({ line: lineNo, error: 'expected a JSON object keyed by email' });
              this.mode = 'done';
              this.trailingReported = true;
              return;
            }
          } else if (c === OPEN_BRACKET) {
            this.mode = 'array';
          } else {
            this.mode = 'seq';
            i--;
          }
          break;
        case 'seq':
          if (c === OPEN_BRACE) this.begin(i, lineNo, c);
          else {
            this.out.push({ line: lineNo, error: 'not a JSON document (expected "{")' });
            this.resyncing = true;
            return;
          }
          break;
        case 'array':
          if (c === COMMA) break;
          if (c === CLOSE_BRACKET) this.mode = 'done';
          else this.begin(i, lineNo, c);
          break;
        case 'object':
          if (this.expect === 'key') {
            if (c === COMMA) break;
            if (c === CLOSE_BRACE) this.mode = 'done';
            else if (c === QUOTE) {
              this.captureIsKey = true;
              this.begin(i, lineNo, c);
            } else return this.corrupt(lineNo, 'expected a quoted email as the member name');
          } else if (this.expect === 'colon') {
            if (c === COLON) this.expect = 'value';
            else return this.corrupt(lineNo, 'expected ":" after the member name');
          } else {
            this.begin(i, lineNo, c);
          }
          break;
        case 'done':
          if (!this.trailingReported) {
            this.out.push({ line: lineNo, error: 'unexpected content after the end of the JSON document' });
            this.trailingReported = true;
          }
          return;
      }
    }
  }

  /** A structural fault in a container: nothing after it can be located reliably. */
  private corrupt(lineNo: number, message: string): void {
    this.out.push({ line: lineNo, error: `${message}; the rest of the file is not read` });
    this.mode = 'done';
    this.trailingReported = true;
  }

  private begin(i: number, lineNo: number, c: number): void {
    this.capturing = true;
    this.parts = [];
    this.segStart = i;
    this.startLine = lineNo;
    this.depth = 0;
    this.escaped = false;
    this.inString = false;
    this.scalar = false;
    if (c === QUOTE) this.inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth = 1;
    else this.scalar = true;
  }

  private finish(line: string, end: number): void {
    const last = line.slice(this.segStart, end);
    const text = this.parts.length ? this.parts.join('\n') + '\n' + last : last;
    this.capturing = false;
    this.scalar = false;
    this.parts = [];
    this.segStart = end;
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch (err) {
      if (this.captureIsKey) {
        this.captureIsKey = false;
        return this.corrupt(this.startLine, 'malformed member name');
      }
      if (this.mode === 'object') this.expect = 'key';
      this.out.push({ line: this.startLine, error: parseFailure(err) });
      return;
    }
    if (this.captureIsKey) {
      this.captureIsKey = false;
      this.key = value as string;
      this.expect = 'colon';
      return;
    }
    if (this.mode === 'object') {
      this.out.push({ line: this.startLine, value, key: this.key ?? '' });
      this.expect = 'key';
      this.key = undefined;
    } else {
      this.out.push({ line: this.startLine, value });
    }
  }

  private fail(message: string): void {
    this.out.push({ line: this.startLine, error: message });
    this.capturing = false;
    this.captureIsKey = false;
    this.scalar = false;
    this.inString = false;
    this.parts = [];
    if (this.mode === 'object') this.expect = 'key';
  }
}
