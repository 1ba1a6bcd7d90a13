import type { AuthUser } from '../../store/types.js';

/** The user as every response shows it: never the hash. */
export interface PublicUser {
  id: string;
  email: string;
  name: string | null;
  roles: string[];
  email_verified: boolean;
  disabled: boolean;
  created_at: string;
  updated_at: string;
  /** The language of the user's mail (BCP 47, lower-case); null: none chosen. */
  locale: string | null;
}

/**
 * @example
 * return { user: publicUser(request.auth!.user) };
 */
export function publicUser(u: AuthUser): PublicUser {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    roles: u.roles,
    email_verified: u.emailVerified,
    disabled: u.disabled,
    created_at: isoTime(u.createdAt),
    updated_at: isoTime(u.updatedAt),
    locale: u.locale,
  };
}

const isoTimes = new Map<number, string>();

/**
 * `new Date(ms).toISOString()`, remembered: the same users' timestamps are formatted on every
 * `GET /auth/me`, and the two Date objects and their formatting were about 2 % of it. Bounded:
 * emptied when it reaches 10,000 entries.
 */
function isoTime(ms: number): string {
  let iso = isoTimes.get(ms);
  if (iso === undefined) {
    if (isoTimes.size >= 10_000) isoTimes.clear();
    iso = new Date(ms).toISOString();
    isoTimes.set(ms, iso);
  }
  return iso;
}
