import { describeDatabaseUrl } from './database-url.js';
import { DatabaseDirectoryMissingError, DatabaseUnavailableError, driverErrorCode } from './errors.js';

/** A path for a shell command in a message: quoted when it needs to be. */
function shellWord(path: string): string {
  return /^[\w./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

/** What to check for a driver's code; null when the code does not say. */
function hint(code: string | undefined, url: URL | null): string | null {
  const where = url ? `${url.hostname || 'localhost'}:${url.port || '5432'}` : 'the host and port of DATABASE_URL';
  const user = url?.username ? decodeURIComponent(url.username) : 'the user';
  const database = url?.pathname.replace(/^\//, '') || 'the database';
  switch (code) {
    case 'ECONNREFUSED':
      return `Nothing accepts connections at ${where}: check that PostgreSQL is running and listens there (listen_addresses, port).`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `The host name ${url?.hostname ?? ''} does not resolve: check the host in DATABASE_URL.`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `No answer from ${where}: check the host and port, and any firewall between.`;
    case '28P01':
      return `PostgreSQL refused the password of ${user}: check the user and password in DATABASE_URL.`;
    case '28000':
      return `PostgreSQL does not let ${user} connect from here: check the user in DATABASE_URL and pg_hba.conf.`;
    case '3D000':
      return `The database ${database} does not exist: create it (createdb -O ${user} ${database}) or correct its name in DATABASE_URL.`;
    case '42501':
      return `${user} may not use the database ${database}: grant it the privileges (docs/deploy.md) or use its owner.`;
    case 'SQLITE_CANTOPEN':
    case 'EACCES':
    case 'EPERM':
      return 'Check the path, and that this user may read and write the file and its directory.';
    case 'SQLITE_NOTADB':
      return 'The file is not a SQLite database: check the path in DATABASE_URL.';
    case 'SQLITE_READONLY':
      return 'The file or its directory is read-only for this user: fix the permissions.';
    default:
      return null;
  }
}

/** The message without the URL's password, in case a driver ever echoes it. */
function scrub(message: string, url: URL | null): string {
  if (!url?.password) return message;
  let out = message;
  for (const secret of new Set([url.password, decodeURIComponent(url.password)])) out = out.split(secret).join('***');
  return out;
}

/**
 * What a failure to open or reach the database (at start-up, or in a CLI command) means, for
 * the person who configured it: it names DATABASE_URL with the database it points to (host
 * shown, password never) and says what to check. Null when the error is not about the database.
 *
 * @example
 * catch (err) { console.error(explainDatabaseError(err, config.databaseUrl) ?? String(err)); }
 */
export function explainDatabaseError(err: unknown, databaseUrl: string): string | null {
  const described = `DATABASE_URL (${describeDatabaseUrl(databaseUrl)})`;
  if (err instanceof DatabaseDirectoryMissingError) {
    return (
      `${described}: the directory ${err.directory} does not exist.\n` +
      `  Create it (mkdir -p -m 700 ${shellWord(err.directory)}) or correct the path; only ./data is created on its own.`
    );
  }
  const inner = err instanceof DatabaseUnavailableError && err.cause !== undefined ? err.cause : err;
  const code = driverErrorCode(inner) ?? (err instanceof DatabaseUnavailableError ? err.code : undefined);
  const message = (inner as { message?: unknown } | null)?.message;
  let url: URL | null = null;
  if (!databaseUrl.startsWith('sqlite:')) {
    try {
      url = new URL(databaseUrl);
    } catch {
      url = null;
    }
  }
  const advice = hint(code, url);
  if (!advice && !(err instanceof DatabaseUnavailableError) && !(code && /^(SQLITE_|[0-9A-Z]{5}$)/.test(code))) return null;
  const cause = scrub(typeof message === 'string' && message ? message : String(code ?? 'unknown error'), url);
  const fallback = url
    ? 'Check that PostgreSQL is running and the host, port, user, password and database name in DATABASE_URL.'
    : 'Check the path in DATABASE_URL and the permissions of the file and its directory.';
  return `cannot use the database of ${described}: ${cause}\n  ${advice ?? fallback}`;
}
