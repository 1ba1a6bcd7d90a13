/** The value written in place of a secret. */
export const LOG_CENSOR = '[redacted]';

/** Keys whose values are secrets wherever they appear in a log object (top level or one level down). */
const SECRET_KEYS: ReadonlySet<string> = new Set([
  'password',
  'new_password',
  'current_password',
  'refresh_token',
  'access_token',
  'passwordHash',
  'password_hash',
]);

/** Request headers that carry credentials, masked under `req.headers`. */
const SECRET_HEADERS = ['authorization', 'cookie'] as const;

type LogObject = Record<string, unknown>;

function isObject(value: unknown): value is LogObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A copy of `value` that a mask can be written into; an Error keeps its name, message and stack. */
function copyOf(value: LogObject): LogObject {
  if (value instanceof Error) return { ...value, type: value.name, message: value.message, stack: value.stack };
  return { ...value };
}

function maskSecretKeys(value: LogObject): LogObject {
  let out: LogObject | undefined;
  for (const key in value) {
    if (SECRET_KEYS.has(key) && Object.prototype.hasOwnProperty.call(value, key)) (out ??= copyOf(value))[key] = LOG_CENSOR;
  }
  return out ?? value;
}

function maskRequest(req: LogObject): LogObject {
  let out = maskSecretKeys(req);
  const headers = out.headers;
  if (isObject(headers) && SECRET_HEADERS.some((h) => headers[h] !== undefined)) {
    const masked = { ...headers };
    for (const h of SECRET_HEADERS) if (masked[h] !== undefined) masked[h] = LOG_CENSOR;
    if (out === req) out = copyOf(req);
    out.headers = masked;
  }
  return out;
}

/**
 * Masks secrets in one log object before it is written: a secret key at the top level or one
 * level down (`{ body: { password } }`), and `req.headers.authorization` / `req.headers.cookie`.
 * It copies only what it changes and never touches the caller's object.
 *
 * This replaces pino's `redact` option, which re-parses its paths and clones for every key of
 * every line (even a number) — a measurable share of each request, since every request logs a
 * line. Used as pino's `formatters.log` and `formatters.bindings`, so child-logger bindings are
 * covered too.
 *
 * @example
 * redactLogObject({ body: { email: 'a@b.c', password: 'hunter2' } });
 * // => { body: { email: 'a@b.c', password: '[redacted]' } }
 */
export function redactLogObject(obj: LogObject): LogObject {
  let out: LogObject | undefined;
  for (const key in obj) {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) continue;
    const value = obj[key];
    if (SECRET_KEYS.has(key)) {
      (out ??= { ...obj })[key] = LOG_CENSOR;
    } else if (isObject(value)) {
      const masked = key === 'req' ? maskRequest(value) : maskSecretKeys(value);
      if (masked !== value) (out ??= { ...obj })[key] = masked;
    }
  }
  return out ?? obj;
}

/** The bits of a pino logger that `redactChildBindings` touches. */
interface ChildFactory {
  child(bindings: LogObject, options?: object): unknown;
}

/**
 * Makes every child logger (however deep, e.g. fastify's per-request `request.log`) mask
 * secrets in its bindings, as `redactLogObject` does for log objects: pino applies
 * `formatters.bindings` to the root's bindings only. Children inherit the wrapped `child`
 * through their prototype, so one call on the root covers them all.
 *
 * @example
 * const log = redactChildBindings(pino({ formatters: { log: redactLogObject } }));
 * log.child({ ctx: { access_token: 't' } }).info('x'); // ctx.access_token is "[redacted]"
 */
export function redactChildBindings<L extends ChildFactory>(logger: L): L {
  const original = logger.child;
  logger.child = function child(this: ChildFactory, bindings: LogObject, options?: object) {
    return original.call(this, redactLogObject(bindings), options);
  };
  return logger;
}
