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
