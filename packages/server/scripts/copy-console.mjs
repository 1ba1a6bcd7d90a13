#!/usr/bin/env node
// Part of `npm run build` in packages/server: copies the admin console's production build
// (packages/console/dist, made by the console's own build, which the root build runs first) into
// packages/server/console/, which is in the package's `files`: `npm pack` and `npx latchkey serve`
// carry the console with no step of their own. Text files also get a .br and a .gz copy, made
// once here, so that the server sends them compressed without compressing per request.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const serverDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(serverDir, '..', 'console', 'dist');
const target = join(serverDir, 'console');
const COMPRESSIBLE = /\.(html|js|css|svg|json|txt)$/;
/** Below this a compressed copy saves less than its headers cost. */
const MIN_COMPRESS_BYTES = 1024;

if (!existsSync(join(source, 'index.html'))) {
  console.error(
    `packages/server: the admin console is not built (${relative(process.cwd(), source)}/index.html is missing).\n` +
      'Run `npm run build` at the repository root: it builds packages/console before packages/server.',
  );
  process.exit(1);
}

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.isFile()) yield path;
  }
}

rmSync(target, { recursive: true, force: true });
let count = 0;
let bytes = 0;
let brBytes = 0;
for (const file of files(source)) {
  const out = join(target, relative(source, file));
  mkdirSync(dirname(out), { recursive: true });
  const body = readFileSync(file);
  writeFileSync(out, body);
  count += 1;
  bytes += body.length;
  if (COMPRESSIBLE.test(file) && body.length >= MIN_COMPRESS_BYTES) {
    const br = brotliCompressSync(body, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length },
    });
    writeFileSync(`${out}.br`, br);
    writeFileSync(`${out}.gz`, gzipSync(body, { level: 9 }));
    brBytes += br.length;
  } else {
    brBytes += body.length;
  }
}
console.log(
  `packages/server: console copied (${count} files, ${Math.round(bytes / 1024)} KiB, ${Math.round(brBytes / 1024)} KiB with brotli) from ${relative(serverDir, source)} (${statSync(join(source, 'index.html')).mtime.toISOString()})`,
);
