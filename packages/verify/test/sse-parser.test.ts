import { describe, expect, it } from 'vitest';
import { SseParser, type SseMessage } from '../src/sse-parser.js';

function collect(chunks: readonly string[]) {
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const parser = new SseParser({ message: (m) => messages.push(m), comment: (c) => comments.push(c), retry: (ms) => retries.push(ms) });
  for (const chunk of chunks) parser.push(chunk);
  return { messages, comments, retries, lastEventId: parser.lastEventId };
}

/** Every way of cutting `text` in two, plus one character per chunk. */
function splits(text: string): string[][] {
  const out: string[][] = [[text], [...text]];
  for (let i = 1; i < text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  return out;
}

const STREAM =
  'retry: 1000\n\n' +
  ': heartbeat\n\n' +
  'id: c1\nevent: revocation\ndata: {"type":"session","sid":"s1"}\n\n' +
  'id: c2\r\nevent: revocation\r\ndata: {"type":"user",\r\ndata: "sub":"u1"}\r\n\r\n' +
  'id: c3\revent: revocation\rdata: {"type":"session","sid":"s3"}\r\r';

describe('SseParser', () => {
  it('parses messages, comments and retry wherever the chunks are cut (LF, CRLF and CR line ends)', () => {
    for (const chunks of splits(STREAM)) {
      const { messages, comments, retries, lastEventId } = collect(chunks);
      expect(messages).toEqual([
        { event: 'revocation', id: 'c1', data: '{"type":"session","sid":"s1"}' },
        { event: 'revocation', id: 'c2', data: '{"type":"user",\n"sub":"u1"}' },
        { event: 'revocation', id: 'c3', data: '{"type":"session","sid":"s3"}' },
      ]);
      expect(comments).toEqual(['heartbeat']);
      expect(retries).toEqual([1000]);
      expect(lastEventId).toBe('c3');
    }
  });

  it('a CR at the end of one chunk and the LF at the start of the next are one line end, not two', () => {
    const { messages } = collect(['data: a\r', '\ndata: b\r', '\n\r', '\n']);
    expect(messages).toEqual([{ event: 'message', id: '', data: 'a\nb' }]);
  });

  it('an id without data moves the last event ID but dispatches nothing', () => {
    const { messages, lastEventId } = collect(['id: c1\nevent: revocation\ndata: x\n\n', 'id: c9\n\n']);
    expect(messages).toHaveLength(1);
    expect(lastEventId).toBe('c9');
  });

  it('an event cut off before its blank line neither dispatches nor moves the last event ID', () => {
    const { messages, lastEventId } = collect(['id: c1\ndata: x\n\n', 'id: c2\nevent: revocation\ndata: {"half"']);
    expect(messages).toHaveLength(1);
    expect(lastEventId).toBe('c1');
  });

  it('fields as the spec reads them: one space stripped, no colon = empty value, unknown fields and NUL ids ignored, BOM dropped', () => {
    const { messages, lastEventId, retries } = collect(['\ufeffdata:no space\ndata:  two spaces\ndata\nfoo: bar\nretry: soon\nid: a\0b\n\n']);
    expect(messages).toEqual([{ event: 'message', id: '', data: 'no space\n two spaces\n' }]);
    expect(lastEventId).toBe('');
    expect(retries).toEqual([]);
  });

  it('multi-byte characters split across chunks survive a streaming TextDecoder', () => {
    const bytes = new TextEncoder().encode('data: é€😀\n\n');
    const decoder = new TextDecoder();
    const messages: SseMessage[] = [];
    const parser = new SseParser({ message: (m) => messages.push(m) });
    for (const b of bytes) parser.push(decoder.decode(new Uint8Array([b]), { stream: true }));
    expect(messages).toEqual([{ event: 'message', id: '', data: 'é€😀' }]);
  });
});
