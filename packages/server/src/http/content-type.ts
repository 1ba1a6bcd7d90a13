import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { AppError } from '../errors.js';

/**
 * preValidation hook: Latchkey speaks JSON; only the OAuth2 endpoints (route config `oauth`:
 * login, refresh) also take `application/x-www-form-urlencoded`. A form anywhere else is 415
 * UNSUPPORTED_MEDIA_TYPE, not a confusing 422. Callback-style: no promise per request.
 *
 * @example
 * scope.addHook('preValidation', refuseFormsOutsideOAuth);
 */
export function refuseFormsOutsideOAuth(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  // request.mediaType is the parsed type, lower-cased and without parameters, as Fastify
  // chose the parser by: `Application/X-WWW-Form-Urlencoded` is a form here too.
  if (
    request.headers['content-type'] !== undefined &&
    request.mediaType === 'application/x-www-form-urlencoded' &&
    request.routeOptions.config.oauth !== true
  ) {
    done(new AppError('UNSUPPORTED_MEDIA_TYPE', { detail: 'Send application/json.' }));
    return;
  }
  done();
}

/** True when `value` (a string, or any nesting of arrays and plain objects) holds U+0000 in a string or a key. */
function holdsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (value === null || typeof value !== 'object' || depth > 32) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (holdsNul(item, depth + 1)) return true;
    return false;
  }
  for (const key in value) {
    if (key.includes('\u0000') || holdsNul((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

/**
 * preValidation hook: no text Latchkey is given may contain the NUL character (U+0000), in the
 * body, the query or a path parameter. PostgreSQL cannot store it in text (SQLSTATE 22021, which
 * surfaced as a 500 on a lookup such as `DELETE /auth/sessions/%00` or a login with "\u0000" in
 * the email), and SQLite would store it silently, so both adapters answer the same: 400
 * INVALID_REQUEST before any service runs. A NUL-free request (every ordinary one) walks a few
 * strings: no allocation, no promise.
 *
 * @example
 * scope.addHook('preValidation', refuseNulCharacters);
 */
export function refuseNulCharacters(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  if (holdsNul(request.params) || holdsNul(request.query) || holdsNul(request.body)) {
    done(new AppError('INVALID_REQUEST', { detail: 'The request contains a NUL character (U+0000), which no field may hold.' }));
    return;
  }
  done();
}
