import { bearerToken } from '@latchkey/verify';
import { cookies } from 'next/headers';
import { ACCESS_COOKIE, requireUser } from '@/lib/latchkey';

// Copies the caller's access token into an HttpOnly cookie, so that server components can see
// who is signed in. It takes the token only from the Authorization header, which a cross-site
// form cannot send: nobody can plant their token in a visitor's browser.
export async function POST(request: Request) {
  const user = await requireUser(request);
  if (user instanceof Response) return user;
  const token = bearerToken(request.headers.get('authorization') ?? undefined)!;
  (await cookies()).set(ACCESS_COOKIE, token, {
    httpOnly: true,
    sameSite: 'lax',
    // Plain-http development only: COOKIE_SECURE=false, as for Latchkey itself.
    secure: process.env.COOKIE_SECURE !== 'false',
    path: '/',
    // Gone when the token expires; the client posts every refreshed token.
    maxAge: Math.max(0, user.exp - Math.floor(Date.now() / 1000)),
  });
  return new Response(null, { status: 204 });
}

export async function DELETE() {
  (await cookies()).delete(ACCESS_COOKIE);
  return new Response(null, { status: 204 });
}
