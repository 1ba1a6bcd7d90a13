/**
 * RFC 4180 CSV, line by line: a header row names the columns, fields are separated by commas,
 * a field in double quotes may contain commas, `""` and line breaks. Records become objects keyed
 * by the lower-cased header names, so `sql` mapping reads CSV and JSON lines the same way.
 * An empty unquoted field is absent (how `psql \copy ... CSV` and sqlite3 `.mode csv` write NULL).
 */
import type { SourceRecord } from './types.js';

export class CsvRecordSplitter {
  private header: string[] | null = null;
  private fields: string[] = [];
  private quotedFlags: boolean[] = [];
  private field = '';
  private inQuotes = false;
  private quoted = false;
  private startLine = 0;
  private pending = false;

  /** Feeds one line (without its newline); returns the records completed by it. */
  push(line: string, lineNo: number): SourceRecord[] {
    if (!this.pending) {
      if (line.trim() === '') return [];
      this.startLine = lineNo;
      this.pending = true;
    } else {
      // Inside a quoted field the line break is part of the value.
      this.field += '\n';
    }
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (this.inQuotes) {
        if (ch === '"') {
          if (line[i + 1] === '"') {
            this.field += '"';
            i++;
          } else this.inQuotes = false;
        } else this.field += ch;
      } else if (ch === ',') {
        this.endField();
      } else if (ch === '"' && this.field === '' && !this.quoted) {
        this.inQuotes = true;
        this.quoted = true;
      } else {
        this.field += ch;
      }
    }
    if (this.inQuotes) return [];
    this.endField();
    const fields = this.fields;
    const quoted = this.quotedFlags;
    this.fields = [];
    this.quotedFlags = [];
    this.pending = false;
    if (this.header === null) {
      this.header = fields.map((f) => f.replace(/^\ufeff/, '').trim().toLowerCase());
      return [];
    }
    return [this.toRecord(fields, quoted, this.header)];
  }

  end(): SourceRecord[] {
    if (!this.pending) return [];
    this.pending = false;
    return [{ line: this.startLine, error: 'a quoted field is not closed before the end of the file' }];
  }

  private endField(): void {
    this.fields.push(this.field);
    this.quotedFlags.push(this.quoted);
    this.field = '';
    this.quoted = false;
  }

  private toRecord(fields: string[], quoted: boolean[], header: string[]): SourceRecord {
    if (fields.length !== header.length) {
      const hint = fields.length > header.length ? ' (fields containing commas, like argon2 hashes, must be in double quotes)' : '';
      return { line: this.startLine, error: `expected ${header.length} fields as in the header, found ${fields.length}${hint}` };
    }
    const value: Record<string, string> = {};
    header.forEach((name, i) => {
      const f = fields[i]!;
      if (f !== '' || quoted[i]) value[name] = f;
    });
    return { line: this.startLine, value };
  }
}
