/** One field problem of a 422 VALIDATION_FAILED response. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * An error answered by Latchkey (problem+json), or `NETWORK_ERROR` when the server could not
 * be reached. Branch on `code`, never on `message`.
 *
 * @example
 * try { await client.login({ email, password }); }
 * catch (e) { if (e instanceof LatchkeyError && e.code === 'INVALID_CREDENTIALS') showWrongPassword(); }
 */
export class LatchkeyError extends Error {
  override name = 'LatchkeyError';
  constructor(
    /** Latchkey's stable UPPER_SNAKE code, or NETWORK_ERROR / UNEXPECTED_RESPONSE. */
    readonly code: string,
    message: string,
    /** The HTTP status; 0 when no response arrived. */
    readonly status: number,
    /** Per-field problems of VALIDATION_FAILED. */
    readonly errors: FieldError[] = [],
  ) {
    super(message);
  }
}

interface ProblemBody {
  code?: unknown;
  detail?: unknown;
  title?: unknown;
  errors?: unknown;
}

function fieldErrors(raw: unknown): FieldError[] {
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((e): e is { field: unknown; message: unknown } => typeof e === 'object' && e !== null)
    .map((e) => ({ field: String(e.field ?? ''), message: String(e.message ?? '') }));
}

/** Turns a non-2xx response into a LatchkeyError (reads the body). */
export async function errorFromResponse(response: Response): Promise<LatchkeyError> {
  let body: ProblemBody = {};
  try {
    body = (await response.json()) as ProblemBody;
  } catch {
    // Not JSON (a proxy's error page): fall back to the status line.
  }
  const code = typeof body.code === 'string' ? body.code : 'UNEXPECTED_RESPONSE';
  const message =
    typeof body.detail === 'string' ? body.detail : typeof body.title === 'string' ? body.title : `HTTP ${response.status}`;
  return new LatchkeyError(code, message, response.status, fieldErrors(body.errors));
}

export function networkError(cause: unknown): LatchkeyError {
  const error = new LatchkeyError('NETWORK_ERROR', 'The authentication server could not be reached.', 0);
  (error as { cause?: unknown }).cause = cause;
  return error;
}
