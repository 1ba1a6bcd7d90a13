/** One dispatched Server-Sent Events message. */
export interface SseMessage {
  /** The `event` field, `'message'` when absent. */
  readonly event: string;
  /** The `data` lines joined with `\n`. */
  readonly data: string;
  /** The last event ID in force when the message was dispatched (`''` if none yet). */
  readonly id: string;
}

/** What the parser reports besides messages. */
export interface SseHandlers {
  message(message: SseMessage): void;
  /** A comment line (`: ...`), e.g. a heartbeat. */
  comment?(text: string): void;
  /** A valid `retry:` field, in milliseconds. */
  retry?(ms: number): void;
}

/**
 * An incremental parser of the `text/event-stream` format (WHATWG HTML, "Server-sent events",
 * §9.2.6): feed it decoded text in chunks of any size; it calls `handlers.message` once per blank
 * line that ends an event with data. Lines end in CRLF, LF or CR, including a CR at the end of one
 * chunk whose LF starts the next. `lastEventId` follows the `id` field even for events without
 * data (the spec: the last event ID is set at the end of every event, whether or not it is
 * dispatched), so a reconnection resumes after it; an event cut off before its blank line leaves
 * it unchanged. An ID containing NUL is ignored; a leading byte-order mark is dropped.
 *
 * @example
 * const parser = new SseParser({ message: (m) => console.log(m.event, m.id, m.data) });
 * parser.push('id: 7\nevent: revocation\ndata: {"a":1}\n\n');
 */
export class SseParser {
  /** The ID a reconnection sends as `Last-Event-ID`. */
  lastEventId = '';
  /** Set by an `id` field; becomes `lastEventId` only at the blank line that ends the event. */
  private idBuffer = '';
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private sawCr = false;
  private started = false;

  constructor(private readonly handlers: SseHandlers) {}

  push(chunk: string): void {
    let text = chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    // A CR ended the previous chunk: an LF starting this one belongs to the same line ending.
    if (this.sawCr && text.charCodeAt(0) === 10) text = text.slice(1);
    this.sawCr = false;
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buffer + text.slice(start, i);
      this.buffer = '';
      if (c === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else this.sawCr = true;
      }
      start = i + 1;
      this.line(line);
    }
    this.buffer += text.slice(start);
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    const colon = line.indexOf(':');
    if (colon === 0) {
      this.handlers.comment?.(line.slice(1).replace(/^ /, ''));
      return;
    }
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.handlers.retry?.(Number(value));
        break;
      default:
      // Unknown fields are ignored (the spec).
    }
  }

  private dispatch(): void {
    // Committed here, not at the field: an event cut off before its blank line (the connection
    // dropped) must not move the resume point past an entry that was never delivered.
    this.lastEventId = this.idBuffer;
    const data = this.data;
    const event = this.event;
    this.data = [];
    this.event = '';
    if (data.length === 0) return;
    this.handlers.message({ event: event === '' ? 'message' : event, data: data.join('\n'), id: this.lastEventId });
  }
}
