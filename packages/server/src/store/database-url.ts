/**
 * Resolves `sqlite:PATH` (relative to the working directory) or `sqlite::memory:`: where
 * DATABASE_URL puts the embedded database. A module of its own, free of any database driver, so
 * that `latchkey serve` can look for the file first thing, and the CLI, doctor and the import
 * command can check whether it exists before they open it.
 *
 * @example
 * sqlitePathFromUrl('sqlite:./data/latchkey.db'); // './data/latchkey.db'
 */
export function sqlitePathFromUrl(url: string): string {
  const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  return path === '' ? ':memory:' : path;
}
