import { describe, expect, it } from 'vitest';
import { hash as argon2Hash } from '@node-rs/argon2';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { PasswordHasher } from '../../../src/passwords/hasher.js';
import { CsvRecordSplitter } from '../../../src/features/user-transfer/csv-records.js';
import { parseTimestamp } from '../../../src/features/user-transfer/fields.js';
import { checkImportHash } from '../../../src/features/user-transfer/hash-check.js';
import { JsonRecordSplitter } from '../../../src/features/user-transfer/json-records.js';
import { ProgressReporter } from '../../../src/features/user-transfer/progress.js';
import type { SourceRecord } from '../../../src/features/user-transfer/types.js';

function split(splitter: { push(l: string, n: number): SourceRecord[]; end(n: number): SourceRecord[] }, text: string): SourceRecord[] {
  const lines = text.split('\n');
  const out: SourceRecord[] = [];
  lines.forEach((l, i) => out.push(...splitter.push(l, i + 1)));
  out.push(...splitter.end(lines.length));
  return out;
}

const BCRYPT = '$2b$10$' + 'a'.repeat(53);

describe('JSON record splitter', () => {
  it('reads JSON lines, reporting a broken line by number without losing the next ones', () => {
    const text = ['{"a":1}', '{"a":2, "b": "x', '{"a":3}', '', '{"a":4} {"a":5}', '{"a":}'].join('\n');
    const recs = split(new JsonRecordSplitter('auto'), text);
    expect(recs).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 2, error: 'malformed JSON (a string is not closed on its line)' },
      { line: 3, value: { a: 3 } },
      { line: 5, value: { a: 4 } },
      { line: 5, value: { a: 5 } },
      { line: 6, error: expect.stringMatching(/^malformed JSON/) },
    ]);
  });

  it('ends an unterminated document at the next line starting with "{"', () => {
    const recs = split(new JsonRecordSplitter('auto'), '{"a": {"b": 1}\n{"a":2}');
    expect(recs).toEqual([
      { line: 1, error: 'unterminated JSON document starting at line 1' },
      { line: 2, value: { a: 2 } },
    ]);
  });

  it('reads mongoexport --pretty documents that span lines, with braces inside strings', () => {
    const text = '{\n  "_id": {\n    "$oid": "x"\n  },\n  "name": "a } { b"\n}\n{\n  "name": "c"\n}';
    expect(split(new JsonRecordSplitter('auto'), text)).toEqual([
      { line: 1, value: { _id: { $oid: 'x' }, name: 'a } { b' } },
      { line: 7, value: { name: 'c' } },
    ]);
  });

  it('reads a JSON array on one line and pretty-printed, with escaped quotes', () => {
    expect(split(new JsonRecordSplitter('auto'), '[{"a":"q\\"}"},{"a":2}]')).toEqual([
      { line: 1, value: { a: 'q"}' } },
      { line: 1, value: { a: 2 } },
    ]);
    expect(split(new JsonRecordSplitter('auto'), '[{\n "a": 1\n},\n{\n "a": 2\n}]')).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 4, value: { a: 2 } },
    ]);
    expect(split(new JsonRecordSplitter('auto'), '[{"a":1},')).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 1, error: 'the JSON array is not closed (file truncated?)' },
    ]);
  });

  it('reads an object keyed by email, each value at its own line', () => {
    const text = '{\n  "a@x.io": {"email": "a@x.io"},\n  "b@x.io": {\n    "email": "b@x.io"\n  },\n  "c@x.io": 5\n}';
    expect(split(new JsonRecordSplitter('object'), text)).toEqual([
      { line: 2, key: 'a@x.io', value: { email: 'a@x.io' } },
      { line: 3, key: 'b@x.io', value: { email: 'b@x.io' } },
      { line: 6, key: 'c@x.io', value: 5 },
    ]);
    expect(split(new JsonRecordSplitter('object'), '[1]')).toEqual([{ line: 1, error: 'expected a JSON object keyed by email' }]);
  });

  it('never echoes record text (a hash) in a parse error', () => {
    const recs = split(new JsonRecordSplitter('auto'), `{"password": "${BCRYPT}", }`);
    expect(recs).toHaveLength(1);
    expect(JSON.stringify(recs)).not.toContain(BCRYPT.slice(7));
  });
});

describe('CSV record splitter', () => {
  it('reads quoted fields with commas, quotes and line breaks; empty unquoted fields are absent', () => {
    const text = [
      '\ufeffid,Username,hashed_password,disabled',
      '1,ada@x.io,"$2b$,x",0',
      '2,"bob ""b"" @x.io","multi',
      'line",',
      '3,too,few',
      '',
      '4,"",h,1',
    ].join('\n');
    const recs = split(new CsvRecordSplitter(), text);
    expect(recs).toEqual([
      { line: 2, value: { id: '1', username: 'ada@x.io', hashed_password: '$2b$,x', disabled: '0' } },
      { line: 3, value: { id: '2', username: 'bob "b" @x.io', hashed_password: 'multi\nline' } },
      { line: 5, error: 'expected 4 fields as in the header, found 3' },
      { line: 7, value: { id: '4', username: '', hashed_password: 'h', disabled: '1' } },
    ]);
  });

  it('reports a quoted field left open at the end of the file', () => {
    expect(split(new CsvRecordSplitter(), 'a,b\n1,"x')).toEqual([
      { line: 2, error: 'a quoted field is not closed before the end of the file' },
    ]);
  });
});

describe('timestamps', () => {
  it('reads SQL, ISO and epoch forms as UTC milliseconds', () => {
    const t = Date.UTC(2024, 4, 1, 12, 34, 56, 789);
    expect(parseTimestamp('2024-05-01 12:34:56.789012', 'c')).toBe(t);
    expect(parseTimestamp('2024-05-01T12:34:56.789Z', 'c')).toBe(t);
    expect(parseTimestamp('2024-05-01 14:34:56.789+02', 'c')).toBe(t);
    expect(parseTimestamp('2024-05-01T07:04:56.789-05:30', 'c')).toBe(t);
    expect(parseTimestamp(t, 'c')).toBe(t);
    expect(parseTimestamp(String(t / 1000), 'c')).toBe(t);
    expect(parseTimestamp('', 'c')).toBeNull();
    expect(() => parseTimestamp('2024-02-30', 'c')).toThrow(/not a valid date/);
    expect(() => parseTimestamp('yesterday', 'c')).toThrow(/not a timestamp/);
  });
});

describe('hash acceptance', () => {
  it('accepts bcrypt $2a/$2b/$2y and PHC argon2, as the login path verifies them', () => {
    for (const prefix of ['$2a$', '$2b$', '$2y$']) expect(checkImportHash(prefix + BCRYPT.slice(4))).toMatchObject({ ok: true, family: 'bcrypt' });
    const argon = '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$' + 'A'.repeat(43);
    expect(checkImportHash(argon)).toMatchObject({ ok: true, family: 'argon2' });
    expect(checkImportHash(argon.replace('v=19$', ''))).toMatchObject({ ok: true });
  });

  it('every accepted shape verifies at login: argon2id/i/d, with and without v=, bcrypt $2a/$2b/$2y', async () => {
    const password = 'imported password 1';
    const cheap = { memoryCost: 19456, timeCost: 2, parallelism: 1 };
    const [id, i, d, v10, b] = await Promise.all([
      argon2Hash(password, { ...cheap, algorithm: 2 }),
      argon2Hash(password, { ...cheap, algorithm: 1 }),
      argon2Hash(password, { ...cheap, algorithm: 0 }),
      argon2Hash(password, { ...cheap, algorithm: 2, version: 0 }),
      bcryptHash(password, 4),
    ]);
    const shapes = [id, i, d, v10, v10.replace('v=16$', ''), b, '$2a$' + b.slice(4), '$2y$' + b.slice(4)];
    const hasher = new PasswordHasher({ memoryKib: 19456, timeCost: 2, parallelism: 1 }, 2, 100);
    for (const stored of shapes) {
      expect(checkImportHash(stored).ok, stored).toBe(true);
      expect((await hasher.verify(stored, password)).ok, stored).toBe(true);
      expect((await hasher.verify(stored, password + '!')).ok, stored).toBe(false);
    }
  });

  it('refuses everything else with a reason that never contains the value', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /no password hash/],
      ['hunter2-secret-pw', /plaintext or an unknown format/],
      ['5f4dcc3b5aa765d61d8327deb882cf99', /unsalted hex digest/],
      ['$pbkdf2-sha256$29000$N2bMmZMy$AbCd', /unsupported hash scheme "pbkdf2-sha256"/],
      ['pbkdf2_sha256$260000$salt$hash=', /unsupported hash scheme "pbkdf2_sha256"/],
      ['$6$rounds=5000$salt$hash', /unsupported hash scheme "6"/],
      ['$2x$10$' + 'a'.repeat(53), /\$2x\$ is not supported/],
      ['$2b$10$tooshort', /malformed bcrypt hash/],
      ['$argon2id$v=19$garbage', /malformed argon2 hash/],
    ];
    for (const [value, reason] of cases) {
      const r = checkImportHash(value);
      expect(r.ok, value).toBe(false);
      if (!r.ok) {
        expect(r.reason).toMatch(reason);
        if (value.length > 8) expect(r.reason).not.toContain(value.slice(-8));
      }
    }
  });
});

describe('progress', () => {
  function sink(isTTY: boolean) {
    const chunks: string[] = [];
    return { chunks, stream: { isTTY, columns: 100, write: (c: string) => (chunks.push(c), true) } };
  }

  it('draws a bar redrawn in place on a terminal', () => {
    const { chunks, stream } = sink(true);
    let t = 0;
    const p = new ProgressReporter(stream, 'import', { now: () => t });
    t = 50;
    p.update({ rows: 50, bytes: 5, totalBytes: 100 }); // within 100 ms of the start: not drawn
    t = 1000;
    p.update({ rows: 500, bytes: 50, totalBytes: 100 });
    p.update({ rows: 600, bytes: 60, totalBytes: 100 }); // within 100 ms: not redrawn
    t = 2000;
    p.done({ rows: 1000, bytes: 100, totalBytes: 100 });
    expect(chunks).toHaveLength(3);
    expect(chunks[0]).toMatch(/^\r\x1b\[2Kimport \[#+\.+\]  50% 500 rows  500 rows\/s$/);
    expect(chunks[1]).toMatch(/\[#+\] 100% 1,000 rows/);
    expect(chunks[2]).toBe('\n');
  });

  it('writes plain periodic lines elsewhere', () => {
    const { chunks, stream } = sink(false);
    let t = 0;
    const p = new ProgressReporter(stream, 'import', { now: () => t, intervalMs: 5000 });
    t = 1000;
    p.update({ rows: 10, bytes: 10, totalBytes: 100 }); // within the first interval
    t = 5000;
    p.update({ rows: 50, bytes: 50, totalBytes: 100 });
    t = 7000;
    p.update({ rows: 70, bytes: 70, totalBytes: 100 }); // within the interval
    t = 10_000;
    p.update({ rows: 100, bytes: 100, totalBytes: 100 });
    p.done({ rows: 100, bytes: 100, totalBytes: 100 });
    expect(chunks).toEqual([
      'import: 50 rows (50% of the file), 10 rows/s\n',
      'import: 100 rows (100% of the file), 10 rows/s\n',
      'import: 100 rows (100% of the file), 10 rows/s\n',
    ]);
    expect(chunks.join('')).not.toContain('\r');
  });
});
