/**
 * `latchkey clients create|list|rotate-secret|delete`: the admin API's OAuth client management on
 * the server's database, with the same rules (features/oauth-provider/clients.ts) and audit
 * entries (actor `cli`). A secret is printed once, at creation and rotation. Results to stdout,
 * errors to stderr (exit 1).
 */
import type { Config } from '../../config.js';
import { parseCommandArgs, UsageError } from '../../lib/cli-args.js';
import type { OAuthClientRecord, Store } from '../../store/types.js';
import { recordCliAudit } from '../audit/service.js';
import { oauthClientChanges, oauthClientTarget } from '../audit/oauth-actions.js';
import { describeFailure } from '../users/command.js';
import { CLIENT_GRANT_TYPES, createClient, deleteClient, rotateClientSecret, type ClientInput } from './clients.js';

export interface ClientsCommandDeps {
  config: Config;
  clock: () => number;
  withStore<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  out(line: string): void;
  fail(message: string): number;
}

export const CLIENTS_USAGE = `usage: latchkey clients <command>
  create --name NAME --redirect-uri URI [--redirect-uri URI...] [--public] [--grant TYPE...] [--scope SCOPE...] [--first-party]
  list
  rotate-secret ID
  delete ID
Grant types: ${CLIENT_GRANT_TYPES.join(', ')} (default authorization_code and refresh_token).
Scopes: openid, profile, email, offline_access, roles and OAUTH_SCOPES (default openid profile email).`;

function usage(sub: string): string {
  const line = CLIENTS_USAGE.split('\n').find((l) => l.trim().startsWith(`${sub} `) || l.trim() === sub);
  return line ? `usage: latchkey clients ${line.trim()}` : CLIENTS_USAGE;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const typeOf = (c: OAuthClientRecord): string => (c.metadata.token_endpoint_auth_method === 'none' ? 'public' : 'confidential');

async function create(deps: ClientsCommandDeps, args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      public: { type: 'boolean' },
      grant: { type: 'string', multiple: true },
      scope: { type: 'string', multiple: true },
      'first-party': { type: 'boolean' },
    },
    usage('create'),
  );
  if (!values.name) throw new UsageError('--name is required', usage('create'));
  // `--scope "openid email"` and `--scope openid --scope email` both work.
  const scopes = values.scope?.flatMap((s) => s.split(/[\s,]+/).filter(Boolean));
  const input: ClientInput = {
    name: values.name,
    redirect_uris: values['redirect-uri'] ?? [],
    token_endpoint_auth_method: values.public ? 'none' : 'client_secret_basic',
    first_party: values['first-party'] ?? false,
  };
  if (values.grant) input.grant_types = values.grant;
  if (scopes) input.scopes = scopes;
  return deps.withStore(async (store) => {
    const created = await createClient({ store, clock: deps.clock, config: deps.config }, input);
    if (!created.ok) return deps.fail(describeFailure(created));
    const { client, secret } = created.value;
    await recordCliAudit(store, deps.clock, 'admin.oauth_client.created', oauthClientTarget(client.id), {
      ...oauthClientChanges(null, client),
      ...(secret !== null ? { secret: { set: true } } : {}),
    });
    deps.out(`client ${client.id} created (${typeOf(client)}): ${client.name}`);
    deps.out(`client_id: ${client.id}`);
    if (secret !== null) deps.out(`client_secret (shown once, keep it for the app): ${secret}`);
    else deps.out('no secret: a public client proves itself with PKCE');
    return 0;
  });
}

async function list(deps: ClientsCommandDeps, args: string[]): Promise<number> {
  parseCommandArgs(args, {}, usage('list'));
  return deps.withStore(async (store) => {
    const clients: OAuthClientRecord[] = [];
    let cursor: string | null = null;
    do {
      const page = await store.listOAuthClients({ limit: 200, cursor });
      clients.push(...page.clients);
      cursor = page.nextCursor;
    } while (cursor);
    if (clients.length === 0) {
      deps.out('no OAuth clients yet: create one with `latchkey clients create`');
      return 0;
    }
    deps.out(['id', 'name', 'type', 'grants', 'redirect uris', 'created'].join('\t'));
    for (const c of clients) {
      deps.out([c.id, c.name, typeOf(c) + (c.firstParty ? ', first-party' : ''), c.metadata.grant_types.join(','), c.metadata.redirect_uris.join(' ') || '-', iso(c.createdAt)].join('\t'));
    }
    return 0;
  });
}

async function rotate(deps: ClientsCommandDeps, args: string[]): Promise<number> {
  const { positionals } = parseCommandArgs(args, {}, usage('rotate-secret'), { min: 1, max: 1 });
  return deps.withStore(async (store) => {
    const rotated = await rotateClientSecret({ store, clock: deps.clock }, positionals[0]!);
    if (!rotated.ok) return deps.fail(describeFailure(rotated));
    await recordCliAudit(store, deps.clock, 'admin.oauth_client.secret_rotated', oauthClientTarget(positionals[0]!), { secret: { rotated: true } });
    deps.out(`new client_secret (shown once; the old one no longer works): ${rotated.value.secret}`);
    return 0;
  });
}

async function remove(deps: ClientsCommandDeps, args: string[]): Promise<number> {
  const { positionals } = parseCommandArgs(args, {}, usage('delete'), { min: 1, max: 1 });
  return deps.withStore(async (store) => {
    const deleted = await deleteClient({ store }, positionals[0]!);
    if (!deleted.ok) return deps.fail(describeFailure(deleted));
    await recordCliAudit(store, deps.clock, 'admin.oauth_client.deleted', oauthClientTarget(deleted.value.id), oauthClientChanges(deleted.value, null));
    deps.out(`client ${deleted.value.id} deleted with its grants and tokens`);
    return 0;
  });
}

/**
 * @example
 * process.exitCode = await runClientsCommand(deps, 'list', []);
 */
export async function runClientsCommand(deps: ClientsCommandDeps, sub: string | undefined, args: string[]): Promise<number> {
  switch (sub) {
    case 'create':
      return create(deps, args);
    case 'list':
      return list(deps, args);
    case 'rotate-secret':
      return rotate(deps, args);
    case 'delete':
      return remove(deps, args);
    default:
      throw new UsageError(sub ? `unknown command "clients ${sub}"` : 'which clients command?', CLIENTS_USAGE);
  }
}
