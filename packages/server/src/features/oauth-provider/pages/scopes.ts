/**
 * The consent page's words for each scope. Custom scopes (OAUTH_SCOPES) have no description of
 * their own: the page names them as they are, so the user sees exactly what the app asked for.
 */
const BUILT_IN: Record<string, string> = {
  openid: 'Know who you are (your account ID)',
  profile: 'See your name and language',
  email: 'See your email address and whether it is verified',
  roles: 'See your roles',
  offline_access: 'Keep access while you are not using it, until you revoke it',
};

/** A scope in plain words. */
export function describeScope(scope: string, brandName: string): string {
  if (scope === 'roles') return `See your roles in ${brandName}`;
  return BUILT_IN[scope] ?? `Use “${scope}” on your behalf`;
}
