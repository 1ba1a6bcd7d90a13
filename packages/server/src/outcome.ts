import type { ErrorCode, FieldError, ProblemMembers } from './errors.js';

/**
 * The one way a service fails: an expected failure is returned, never thrown, with a `code` from
 * the error registry (errors.ts). Only the HTTP layer turns it into an error response
 * (http/failures.ts); the CLI and the importer print its `detail`. Unexpected errors (a database
 * outage, a full hash queue) are still thrown, and the error handler classifies them.
 */
export interface Failure {
  ok: false;
  code: ErrorCode;
  detail?: string;
  fields?: FieldError[];
  /** Seconds, sent as Retry-After (429, 503, and EMAIL_NOT_VERIFIED until a new link may be mailed). */
  retryAfter?: number;
  /** Extension members of the problem (`reason`, `mail_sent`: errors.ts ProblemMembers). */
  members?: Readonly<ProblemMembers>;
}

/** What a service returns: its value, or the expected failure it met. */
export type Outcome<T> = { ok: true; value: T } | Failure;

/**
 * @example
 * return success(user);
 */
export function success<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

/**
 * @example
 * if (!user) return failure('NOT_FOUND', 'No such user.');
 */
export function failure(code: ErrorCode, detail?: string, fields?: FieldError[]): Failure {
  const f: Failure = { ok: false, code };
  if (detail !== undefined) f.detail = detail;
  if (fields !== undefined) f.fields = fields;
  return f;
}

/**
 * A failure the caller may retry after `retryAfter` seconds (sent as Retry-After).
 *
 * @example
 * if (locked > 0) return retryLater('RATE_LIMITED', `Too many failed logins; retry in ${locked} s.`, locked);
 */
export function retryLater(code: ErrorCode, detail: string, retryAfter: number): Failure {
  return { ok: false, code, detail, retryAfter };
}

/** The `detail` of a validation failure: its one message, or a pointer to the field errors. */
export function validationDetail(fields: readonly FieldError[]): string {
  return fields.length === 1 ? fields[0]!.message : 'Check the highlighted fields.';
}

/**
 * A VALIDATION_FAILED failure with its field errors, one sentence each that names the field
 * ("Password must be at least 8 characters."); the detail summarises them.
 *
 * @example
 * const policy = checkPasswordPolicy('new_password', password);
 * if (policy) return invalid(policy);
 */
export function invalid(...fields: FieldError[]): Failure {
  return failure('VALIDATION_FAILED', validationDetail(fields), fields);
}
