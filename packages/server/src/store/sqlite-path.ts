/**
 * Resolves `sqlite:PATH` (relative to the working directory) or `sqlite::memory:`. Its own
 * module, free of better-sqlite3, so that `latchkey serve` can look for the file first thing.
 *
 * @example
 * sqlitePathFromUrl('sqlite:./data/latchkey.db'); // './data/latchkey.db'
 */
export function sqlitePathFromUrl(url: string): string {
  const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  return path === '' ? ':memory:' : path;
}
