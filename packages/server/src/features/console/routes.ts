import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fileURLToPath } from 'node:url';
import { AppError } from '../../errors.js';
import { errorHandler, sendProblem } from '../../http/error-handler.js';
import { hasConsoleBuild, readConsoleFiles, type ConsoleFile, type ConsoleFiles } from './files.js';

export interface ConsoleRoutesOptions {
  /** The built console; default packages/server/console (scripts/copy-console.mjs fills it). */
  dir?: string;
}

/** src/features/console/ and dist/features/console/ are both three levels below the package. */
const DEFAULT_DIR = fileURLToPath(new URL('../../../console/', import.meta.url));

/**
 * The console's page policy: its own script and style files only (nothing inline: Vite builds
 * none, and React sets styles through the CSSOM, which style-src does not govern), its own
 * images and data: images (the enrolment QR code), calls to its own origin only (the /auth and /admin routes beside it), no plugin, no
 * <base>, no form submission at all (its forms are handled by script; a native submission would
 * put a password in a URL), and no framing: a page of another site cannot overlay an admin's
 * buttons (clickjacking). Trusted Types: a DOM sink given a string is refused.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  // data: for the QR code of the sign-in's authenticator enrolment (the server's own SVG, as a
  // data URL); an image cannot run script.
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
  "require-trusted-types-for 'script'",
].join('; ');

/** On every answer under /console (pages, assets, redirect and refusals alike). */
const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** True when an Accept-Encoding header lists `coding` with a q-value above zero. */
export function acceptsEncoding(header: string | undefined, coding: 'br' | 'gzip'): boolean {
  if (!header) return false;
  for (const part of header.toLowerCase().split(',')) {
    const [name = '', ...params] = part.split(';');
    if (name.trim() !== coding) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

// The handlers below are callback-style and return nothing: the answer is sent from memory with
// no promise per request (a sync handler's return value would be sent a second time).

function sendFile(request: FastifyRequest, reply: FastifyReply, file: ConsoleFile): void {
  void reply.headers(CONSOLE_HEADERS).header('cache-control', file.cacheControl).header('etag', file.etag);
  if (file.br || file.gzip) void reply.header('vary', 'accept-encoding');
  if (request.headers['if-none-match'] === file.etag) {
    void reply.code(304).send();
    return;
  }
  void reply.type(file.contentType);
  const accept = request.headers['accept-encoding'];
  if (file.br && acceptsEncoding(accept, 'br')) void reply.header('content-encoding', 'br').send(file.br);
  else if (file.gzip && acceptsEncoding(accept, 'gzip')) void reply.header('content-encoding', 'gzip').send(file.gzip);
  else void reply.send(file.body);
}

function notFound(reply: FastifyReply, detail: string): void {
  sendProblem(reply.headers(CONSOLE_HEADERS), new AppError('NOT_FOUND', { detail }));
}

function answer(files: ConsoleFiles, request: FastifyRequest, reply: FastifyReply): void {
  const file = files?.get((request.params as { '*': string })['*']);
  if (file) sendFile(request, reply, file);
  else notFound(reply, files ? 'No such file in the admin console.' : 'The admin console is not built into this server.');
}

/**
 * GET /console/ and its assets: the admin console (packages/console), built into this package.
 * Its files are read into memory once, on the first request for them (3-5 ms median, 13-50 ms
 * for a first call, measured on the loaded 2-core test machine; start-up does not pay it, and
 * most servers are rarely asked for the console), and every request is a lookup in that map: a path not in it is 404 problem+json,
 * whatever its encoding, and nothing is read from disk. `/console` redirects to `/console/` (the
 * page's asset URLs are relative, so that it works under a mount prefix too). Registered by the
 * latchkey plugin when `console: true` (buildApp) and CONSOLE_ENABLED is not false.
 *
 * @example
 * await app.register(consoleRoutes, { prefix: '/identity' }); // the console at /identity/console/
 */
export async function consoleRoutes(app: FastifyInstance, options: ConsoleRoutesOptions): Promise<void> {
  const dir = options.dir ?? DEFAULT_DIR;
  // Known at start-up, so that the operator reads it in the start-up log, not at the first visit.
  const built = hasConsoleBuild(dir);
  if (!built) {
    app.log.warn({ dir }, 'the admin console is not built into this server (run `npm run build` at the repository root); /console answers 404');
  }
  /** undefined until read; null when there is no build. */
  let files: ConsoleFiles | undefined = built ? undefined : null;
  let reading: Promise<ConsoleFiles> | undefined;
  const read = (): Promise<ConsoleFiles> => {
    reading ??= readConsoleFiles(dir).then(
      (read) => (files = read),
      (err: unknown) => {
        reading = undefined; // the next request tries again
        throw err;
      },
    );
    return reading;
  };
  app.setErrorHandler(errorHandler);

  // Relative, so that it stays below any mount prefix, and carries nothing of the request.
  app.get('/console', { schema: { hide: true } }, (_request, reply) => {
    void reply.headers(CONSOLE_HEADERS).header('cache-control', 'no-cache').header('location', 'console/').code(308).send();
  });
  app.get('/console/*', { schema: { hide: true } }, (request, reply) => {
    if (files !== undefined) answer(files, request, reply);
    else read().then((read) => answer(read, request, reply), (err: unknown) => void reply.send(err));
  });
}
