import { requireUser } from '@/lib/latchkey';

// A route handler of your API, called by the browser with `Authorization: Bearer <access token>`
// (client.fetch of @latchkey/client adds it). Verified offline against Latchkey's JWKS.
export async function GET(request: Request) {
  const user = await requireUser(request);
  if (user instanceof Response) return user;
  return Response.json({ owner: user.sub, roles: user.roles, orders: [] });
}
