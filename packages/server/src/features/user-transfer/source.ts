/**
 * Opens an import file and yields its records line by line (readline over a stream), whatever
 * the format: the whole file is never held in memory.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { CsvRecordSplitter } from './csv-records.js';
import { JsonRecordSplitter } from './json-records.js';
import type { ImportFormat, SourceRecord } from './types.js';

interface Splitter {
  push(line: string, lineNo: number): SourceRecord[];
  end(lastLine: number): SourceRecord[];
}

export interface Source {
  records: AsyncIterable<SourceRecord>;
  /** Input consumed so far, for progress: characters of the lines handled (bytes for ASCII). */
  bytesRead(): number;
  totalBytes: number;
  /** `sql` only: which of its two shapes was detected. */
  shape: 'json' | 'csv';
}

/** A `sql` export is JSON (lines or array) when it starts with `{` or `[`, otherwise CSV. */
async function sniffShape(file: string): Promise<'json' | 'csv'> {
  const handle = await open(file, 'r');
  try {
    const buf = new Uint8Array(65_536);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const head = new TextDecoder().decode(buf.subarray(0, bytesRead)).replace(/^\ufeff/, '').trimStart();
    return head.startsWith('{') || head.startsWith('[') ? 'json' : 'csv';
  } finally {
    await handle.close();
  }
}

export async function openSource(file: string, format: ImportFormat): Promise<Source> {
  const totalBytes = (await stat(file)).size;
  const shape = format === 'sql' ? await sniffShape(file) : 'json';
  const splitter: Splitter =
    shape === 'csv' ? new CsvRecordSplitter() : new JsonRecordSplitter(format === 'kv' ? 'object' : 'auto');
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  // The stream reads ahead by a megabyte; counting handled lines gives a smooth progress bar.
  let consumed = 0;
  async function* records(): AsyncGenerator<SourceRecord> {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    let lineNo = 0;
    try {
      for await (const raw of lines) {
        lineNo++;
        consumed += raw.length + 1;
        const line = lineNo === 1 ? raw.replace(/^\ufeff/, '') : raw;
        for (const r of splitter.push(line, lineNo)) yield r;
      }
      for (const r of splitter.end(Math.max(lineNo, 1))) yield r;
    } finally {
      lines.close();
      stream.destroy();
    }
  }
  return { records: records(), bytesRead: () => Math.min(consumed, totalBytes), totalBytes, shape };
}
