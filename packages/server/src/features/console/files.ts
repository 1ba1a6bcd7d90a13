import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';

/** One file of the console, held in memory with what its answer needs. */
export interface ConsoleFile {
  body: Buffer;
  /** The same bytes compressed at build time (scripts/copy-console.mjs), when worth it. */
  br: Buffer | null;
  gzip: Buffer | null;
  contentType: string;
  /** Strong validator from the content, quoted. */
  etag: string;
  cacheControl: string;
}

/**
 * The console's files by their path below `/console/` ('' is index.html), or null when the
 * directory has no index.html (the console was not built into this server).
 */
export type ConsoleFiles = ReadonlyMap<string, ConsoleFile> | null;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Vite names every built asset after its content (assets/index-CL15OhoN.js): a new build is a new
 * URL, so a browser may keep these for a year without asking. index.html keeps its URL and names
 * the current assets, so it is revalidated on every load (`no-cache`: a 304 when unchanged).
 */
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

async function walk(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await walk(path)));
    else if (entry.isFile()) found.push(path);
  }
  return found;
}

async function readIfExists(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** True when `dir` holds a built console (its index.html). */
export function hasConsoleBuild(dir: string): boolean {
  return existsSync(join(dir, 'index.html'));
}

/**
 * Reads the built console: a handful of files (about 270 KiB, 75 KiB more for the compressed
 * copies) that every request is then answered from. No request touches the file system, so
 * none can name a file outside this map, however it is encoded (`..%2f`, `%2e%2e/`). Only files
 * with a known type are taken; the .br/.gz copies ride along with their original.
 *
 * @example
 * const files = await readConsoleFiles('/srv/latchkey/packages/server/console');
 * files?.get('')?.contentType; // 'text/html; charset=utf-8'
 */
export async function readConsoleFiles(dir: string): Promise<ConsoleFiles> {
  if (!hasConsoleBuild(dir)) return null;
  const files = new Map<string, ConsoleFile>();
  await Promise.all(
    (await walk(dir)).map(async (path) => {
      const contentType = CONTENT_TYPES[extname(path)];
      if (!contentType) return; // .br, .gz and anything unexpected
      const name = relative(dir, path).split(sep).join('/');
      const [body, br, gzip] = await Promise.all([readFile(path), readIfExists(`${path}.br`), readIfExists(`${path}.gz`)]);
      files.set(name === 'index.html' ? '' : name, {
        body,
        br,
        gzip,
        contentType,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
        cacheControl: name.startsWith('assets/') ? IMMUTABLE : REVALIDATE,
      });
    }),
  );
  return files;
}
