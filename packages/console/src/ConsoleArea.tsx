import type { User } from '@latchkey/client';
import { useState, type ReactNode } from 'react';
import { DEFAULT_SORT, EMPTY_FILTER, type UserFilter, type UserPage, type UserSort } from './api.ts';
import { AuditPage } from './pages/AuditPage.tsx';
import { CreateUserPage } from './pages/CreateUserPage.tsx';
import { OAuthClientPage } from './pages/OAuthClientPage.tsx';
import { CreateOAuthClientPage, OAuthClientsPage, type NewSecret } from './pages/OAuthClientsPage.tsx';
import { UserPage as UserDetailPage } from './pages/UserPage.tsx';
import { UsersPage } from './pages/UsersPage.tsx';
import { WebhookPage } from './pages/WebhookPage.tsx';
import { WebhooksPage } from './pages/WebhooksPage.tsx';
import { consoleHref, type ConsoleRoute } from './route.ts';
import type { Flash } from './shared.tsx';

/** Where the user table stands; kept here so that a visit to a user and back returns to it. */
export interface ListState {
  filter: UserFilter;
  sort: UserSort;
  /** The cursor of each page visited so far; the last one is the current page (null = first page). */
  cursors: Array<string | null>;
  /** The rows last shown, displayed at once on return while they are fetched again. */
  page: UserPage | null;
}

/** The console's pages, for a signed-in admin (`me`). */
export function ConsoleArea({ route, me }: { route: ConsoleRoute; me: User }): ReactNode {
  const [list, setList] = useState<ListState>({ filter: EMPTY_FILTER, sort: DEFAULT_SORT, cursors: [null], page: null });
  const [flash, setFlash] = useState<Flash | null>(null);
  // A new client's secret, from the create page to the client's page (which shows it once).
  const [newSecret, setNewSecret] = useState<NewSecret | null>(null);

  // Each page copies the flash into its own state when it mounts and then clears it here.
  const clearFlash = () => setFlash(null);

  return (
    <>
      <ConsoleNav route={route} />
      {page()}
    </>
  );

  function page(): ReactNode {
    if (route.page === 'audit') return <AuditPage />;
    if (route.page === 'webhooks') return <WebhooksPage flash={flash} onFlashShown={clearFlash} />;
    if (route.page === 'webhook') return <WebhookPage key={route.id} id={route.id} onDeleted={(text) => setFlash({ kind: 'success', text })} />;
    if (route.page === 'oauth-clients') return <OAuthClientsPage flash={flash} onFlashShown={clearFlash} />;
    if (route.page === 'oauth-client-new') {
      return (
        <CreateOAuthClientPage
          onCreated={(created) => {
            setFlash({ kind: 'success', text: created.flash });
            setNewSecret(created.secret);
          }}
        />
      );
    }
    if (route.page === 'oauth-client') {
      return (
        <OAuthClientPage
          key={route.id}
          id={route.id}
          secret={newSecret}
          flash={flash}
          onSecretShown={() => {
            setNewSecret(null);
            clearFlash();
          }}
          onDeleted={(text) => setFlash({ kind: 'success', text })}
        />
      );
    }
    if (route.page === 'new') return <CreateUserPage onCreated={(text) => setFlash({ kind: 'success', text })} />;
    if (route.page === 'user') {
      return (
        <UserDetailPage
          key={route.id}
          id={route.id}
          selfId={me.id}
          flash={flash}
          onFlashShown={clearFlash}
          onDeleted={(text) => setFlash({ kind: 'success', text })}
        />
      );
    }
    return <UsersPage me={me} state={list} onState={setList} flash={flash} onFlashShown={clearFlash} />;
  }
}

const SECTIONS: ReadonlyArray<{ label: string; route: ConsoleRoute; pages: ReadonlyArray<ConsoleRoute['page']> }> = [
  { label: 'Users', route: { page: 'users' }, pages: ['users', 'user', 'new'] },
  { label: 'Audit log', route: { page: 'audit' }, pages: ['audit'] },
  { label: 'Webhooks', route: { page: 'webhooks' }, pages: ['webhooks', 'webhook'] },
  { label: 'OAuth clients', route: { page: 'oauth-clients' }, pages: ['oauth-clients', 'oauth-client', 'oauth-client-new'] },
];

/** The console's sections; the current one is marked for assistive technology too. */
function ConsoleNav({ route }: { route: ConsoleRoute }): ReactNode {
  return (
    <nav className="console-nav" aria-label="Console">
      {SECTIONS.map((s) => (
        <a key={s.label} href={consoleHref(s.route)} aria-current={s.pages.includes(route.page) ? 'page' : undefined}>
          {s.label}
        </a>
      ))}
    </nav>
  );
}
