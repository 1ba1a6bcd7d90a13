import { redirect } from 'next/navigation';
import { currentUser } from '@/lib/latchkey';

// A server component: rendered on the server for each request, from the app's access-token
// cookie (a navigation sends cookies, not the browser's in-memory token).
export default async function AccountPage() {
  const user = await currentUser();
  if (user === null) redirect('/');
  return (
    <main>
      <h1>Your account</h1>
      <p>
        User id: <code id="user-id">{user.sub}</code>
      </p>
      <p>Roles: {user.roles.length > 0 ? user.roles.join(', ') : 'none'}</p>
      <p>Token valid until {new Date(user.exp * 1000).toISOString()}</p>
    </main>
  );
}
