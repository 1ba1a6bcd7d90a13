import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, toProblem, type ErrorCode, type FieldError } from '../errors.js';
import { fieldLabel } from '../lib/field-label.js';
import { QueueFullError } from '../lib/work-queue.js';
import { validationDetail } from '../outcome.js';
import { DatabaseUnavailableError } from '../store/errors.js';
import { oauthErrorFor } from './failures.js';
import { lingerAfterAnswer } from './lingering-close.js';

/** Route config flag: the route is an OAuth2 token endpoint (adds the RFC 6749 `error` member). */
export interface LatchkeyRouteConfig {
  oauth?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    oauth?: boolean;
  }
}

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'text',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
  null: 'null',
};

function typeWords(type: unknown): string {
  const types = (Array.isArray(type) ? type : String(type).split(',')).map((t) => TYPE_WORDS[String(t)] ?? String(t));
  return types.join(' or ');
}

function characters(n: unknown): string {
  return `${String(n)} ${n === 1 ? 'character' : 'characters'}`;
}

/**
 * One Ajv error as a sentence for a person: it names the field and says what to do
 * ("Password must be at least 8 characters."), never Ajv's own wording.
 */
function fieldError(v: AjvError): FieldError {
  const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const p = v.params;
  if (v.keyword === 'required' || v.keyword === 'additionalProperties') {
    const name = String(v.keyword === 'required' ? p.missingProperty : p.additionalProperty);
    const field = [path, name].filter(Boolean).join('.');
    return v.keyword === 'required'
      ? { field, message: `${fieldLabel(field)} is required.` }
      : { field, message: `"${name}" is not a field of this request; remove it.` };
  }
  const field = path || '(body)';
  const label = fieldLabel(field);
  switch (v.keyword) {
    case 'type':
      return { field, message: path ? `${label} must be ${typeWords(p.type)}.` : 'The request body must be a JSON object.' };
    case 'format':
      return {
        field,
        message: p.format === 'email' ? `${label} must be an email address, like name@example.com.` : `${label} must be a valid ${String(p.format)}.`,
      };
    case 'minLength':
      return { field, message: p.limit === 1 ? `${label} must not be empty.` : `${label} must be at least ${characters(p.limit)}.` };
    case 'maxLength':
      return { field, message: `${label} must be at most ${characters(p.limit)}.` };
    case 'minimum':
      return { field, message: `${label} must be at least ${String(p.limit)}.` };
    case 'maximum':
      return { field, message: `${label} must be at most ${String(p.limit)}.` };
    case 'minItems':
      return { field, message: `${label} must list at least ${String(p.limit)}.` };
    case 'maxItems':
      return { field, message: `${label} must list at most ${String(p.limit)}.` };
    case 'uniqueItems':
      return { field, message: `${label} must not list a value twice.` };
    case 'enum':
      return { field, message: `${label} must be one of: ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}.` };
    case 'const':
      return { field, message: `${label} must be ${JSON.stringify(p.allowedValue)}.` };
    case 'minProperties':
      return { field, message: path ? `${label} must not be empty.` : 'Send at least one field to change.' };
    default:
      return { field, message: `${label} is not valid.` };
  }
}

/**
 * The field errors of a failed schema validation: one per field (the first Ajv reports: with
 * allErrors it may report a field twice, e.g. too long and not an email), and no combinator
 * error (anyOf, oneOf) beside a specific one about the same field.
 */
function fieldErrors(validation: AjvError[]): FieldError[] {
  const byField = new Map<string, FieldError>();
  const combinators = new Map<string, FieldError>();
  for (const v of validation) {
    const e = fieldError(v);
    if (v.keyword === 'anyOf' || v.keyword === 'oneOf' || v.keyword === 'if') {
      if (!combinators.has(e.field)) combinators.set(e.field, e);
    } else if (!byField.has(e.field)) {
      byField.set(e.field, e);
    }
  }
  for (const [field, e] of combinators) if (!byField.has(field)) byField.set(field, e);
  return [...byField.values()];
}

/**
 * True for errors that mean "the database cannot be reached right now": each adapter turns its
 * driver's outage errors into DatabaseUnavailableError (store/errors.ts). The name check also
 * recognises one from another copy of the module (a host application's own Latchkey).
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  return err instanceof DatabaseUnavailableError || (err as { name?: unknown } | null)?.name === 'DatabaseUnavailableError';
}

function classify(err: FastifyError | Error, oauth: boolean): AppError {
  if (err instanceof AppError) {
    if (oauth && !err.oauthError) {
      return new AppError(err.code, {
        detail: err.detail,
        errors: err.errors,
        headers: err.headers,
        members: err.members,
        oauthError: oauthErrorFor(err.code),
      });
    }
    return err;
  }
  if (err instanceof QueueFullError) {
    return new AppError('OVERLOADED', { detail: 'Too many password operations in progress; retry shortly.', headers: { 'retry-after': '1' } });
  }
  if (isDatabaseUnavailable(err)) {
    return new AppError('SERVICE_UNAVAILABLE', { detail: 'The database is unreachable; retry shortly.', headers: { 'retry-after': '5' } });
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    const e: ErrorCode = 'VALIDATION_FAILED';
    const errors = fieldErrors(fe.validation as AjvError[]);
    return new AppError(e, {
      detail: validationDetail(errors),
      errors,
      oauthError: oauth ? 'invalid_request' : undefined,
    });
  }
  const oauthError = oauth ? 'invalid_request' : undefined;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', { detail: 'The request body is too large.' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', { detail: 'Send application/json.', oauthError });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('INVALID_REQUEST', { detail: 'The request body is not valid JSON.', oauthError });
  }
  if (fe.statusCode === 400 || err instanceof SyntaxError) {
    return new AppError('INVALID_REQUEST', { detail: 'The request is malformed.', oauthError });
  }
  if (fe.statusCode === 413) return new AppError('PAYLOAD_TOO_LARGE');
  if (fe.statusCode === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE');
  if (fe.statusCode === 404) return new AppError('NOT_FOUND');
  if (fe.statusCode === 405) return new AppError('METHOD_NOT_ALLOWED');
  if (fe.statusCode === 431) return new AppError('HEADERS_TOO_LARGE');
  if (fe.statusCode === 429) return new AppError('RATE_LIMITED');
  return new AppError('INTERNAL_ERROR', { detail: 'An unexpected error occurred.' });
}

/** Sends an AppError as problem+json, with WWW-Authenticate on 401 (RFC 6750). */
export function sendProblem(reply: FastifyReply, err: AppError): FastifyReply {
  for (const [name, value] of Object.entries(err.headers)) void reply.header(name, value);
  if (err.status === 401 && !reply.hasHeader('www-authenticate')) {
    const invalid = err.code === 'INVALID_TOKEN' || err.code === 'SESSION_EXPIRED';
    void reply.header('www-authenticate', invalid ? 'Bearer realm="latchkey", error="invalid_token"' : 'Bearer realm="latchkey"');
  }
  void reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff');
  return reply.code(err.status).type('application/problem+json').send(toProblem(err));
}

/**
 * Fastify's `frameworkErrors` option: the router's own refusals, which happen before any route
 * (and so any scope's error handler) is chosen, as problem+json with a stable code instead of
 * Fastify's `{error, code, message}` JSON (whose message echoes the URL). buildApp passes it;
 * a host app mounting Latchkey passes it to `Fastify({ frameworkErrors })` for the same answers.
 *
 * @example
 * const app = Fastify({ frameworkErrors: latchkeyFrameworkErrors });
 * await app.register(latchkey, { config, prefix: '/identity' });
 */
export function latchkeyFrameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  switch (err.code) {
    case 'FST_ERR_BAD_URL':
      sendProblem(reply, new AppError('INVALID_REQUEST', { detail: 'The URL is not validly percent-encoded.' }));
      return;
    case 'FST_ERR_MAX_PARAM_LENGTH':
      // No identifier of Latchkey is that long: the request cannot name anything that exists.
      sendProblem(reply, new AppError('INVALID_REQUEST', { detail: 'A path parameter is longer than allowed.' }));
      return;
    default:
      errorHandler(err, request, reply);
  }
}

/** The one place errors become responses. Unexpected errors are logged; nothing secret is echoed. */
export function errorHandler(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const oauth = (request.routeOptions.config as LatchkeyRouteConfig | undefined)?.oauth === true;
  const appErr = classify(err, oauth);
  if (appErr.status >= 500 && isDatabaseUnavailable(err)) {
    // Expected during an outage, once per request: a warning without a stack, not an error flood.
    request.log.warn({ err: { type: err.name, message: err.message, code: (err as FastifyError).code } }, 'database unavailable');
  } else if (appErr.status >= 500) {
    request.log.error({ err: { type: err.name, message: err.message, code: (err as FastifyError).code, stack: err.stack } }, 'request failed');
  }
  if (appErr.status === 413) {
    // Answered before the body was read: the client may still be sending it. The connection
    // ends after this answer, without a reset under the client (http/lingering-close.ts).
    void reply.header('connection', 'close');
    lingerAfterAnswer(reply.raw.socket);
  }
  return sendProblem(reply, appErr);
}
