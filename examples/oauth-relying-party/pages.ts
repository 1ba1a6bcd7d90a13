/**
 * The few HTML pages of the example, server-rendered. Everything shown that came from outside
 * (claims, notes, error texts) goes through `escape`; there is no script on any page.
 */

/** HTML-escapes text for an element's content or a double-quoted attribute. */
export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · Notes</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1f2328; }
  header { display: flex; justify-content: space-between; align-items: baseline; border-bottom: 1px solid #d0d7de; margin-bottom: 1.5rem; }
  a.button, button { display: inline-block; font: inherit; padding: .5rem 1rem; border-radius: .375rem; border: 1px solid #1f6feb; background: #1f6feb; color: #fff; text-decoration: none; cursor: pointer; }
  button.secondary { background: #fff; color: #1f6feb; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
  dt { font-weight: 600; }
  dd { margin: 0; }
  .error { color: #b42318; }
</style>
</head>
<body>
<header><h1>Notes</h1><nav><a href="/">Home</a></nav></header>
<main>
${body}
</main>
</body>
</html>`;
}

/** Signed out: the one button that starts the sign-in at Latchkey. */
export function homeSignedOut(brand: string, message?: string): string {
  return layout(
    'Welcome',
    `<h2>Welcome</h2>
<p>Notes keeps your notes. It has no passwords of its own: you sign in with your ${escape(brand)} account.</p>
${message ? `<p class="error" role="alert">${escape(message)}</p>` : ''}
<p><a class="button" href="/login">Sign in with ${escape(brand)}</a></p>`,
  );
}

/** Signed in: who, and where to go. */
export function homeSignedIn(name: string): string {
  return layout(
    'Welcome',
    `<h2>Welcome back, ${escape(name)}</h2>
<p><a class="button" href="/profile">Your profile and notes</a></p>
${signOutForm()}`,
  );
}

function signOutForm(): string {
  // POST, not a link: a sign-out must not be triggerable by an image tag on another site (the
  // session cookie is SameSite=Lax, so a cross-site POST does not carry it).
  return `<form method="post" action="/logout"><input type="hidden" name="intent" value="logout"><button class="secondary" type="submit">Sign out</button></form>`;
}

export interface ProfileView {
  name: string | null;
  email: string | null;
  emailVerified: boolean | null;
  roles: readonly string[];
  subject: string;
  /** What GET /api/notes answered with this session's access token. */
  /** The API access token's state: when it expires, how often it was refreshed. */
  token: { expiresAt: Date; refreshes: number; refreshable: boolean };
  notes: { ok: true; items: readonly { id: string; text: string }[]; audience: string } | { ok: false; status: number; detail: string };
}

export function profile(view: ProfileView): string {
  const notes = view.notes.ok
    ? `<p data-testid="api-status">GET /api/notes answered 200 (token audience ${escape(view.notes.audience)}).</p>
<ul data-testid="notes">${view.notes.items.map((n) => `<li>${escape(n.text)}</li>`).join('')}</ul>`
    : `<p class="error" data-testid="api-status" role="alert">GET /api/notes answered ${view.notes.status}: ${escape(view.notes.detail)}</p>`;
  return layout(
    'Profile',
    `<h2>Profile</h2>
<dl data-testid="profile">
  <dt>Name</dt><dd data-testid="name">${escape(view.name ?? '(not shared)')}</dd>
  <dt>Email</dt><dd data-testid="email">${escape(view.email ?? '(not shared)')}${view.emailVerified ? ' (verified)' : ''}</dd>
  <dt>Roles</dt><dd data-testid="roles">${view.roles.length ? escape(view.roles.join(', ')) : '(none)'}</dd>
  <dt>Subject</dt><dd data-testid="subject"><code>${escape(view.subject)}</code></dd>
</dl>
<h3>Your notes</h3>
${notes}
<p><small>API access token valid until <time datetime="${view.token.expiresAt.toISOString()}">${view.token.expiresAt.toISOString()}</time>,
refreshed <span data-testid="refreshes">${view.token.refreshes}</span> time(s)${view.token.refreshable ? '' : ' (no refresh token: you sign in again when it expires)'}.</small></p>
${signOutForm()}`,
  );
}

/** A failed sign-in, said plainly (the details are in the app's log). */
export function signInFailed(brand: string, reason: string): string {
  return layout(
    'Sign-in failed',
    `<h2>Sign-in failed</h2>
<p class="error" role="alert">${escape(reason)}</p>
<p><a class="button" href="/login">Sign in with ${escape(brand)}</a> <a href="/">Home</a></p>`,
  );
}
