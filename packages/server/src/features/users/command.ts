/**
 * `latchkey users list|show|create|create-admin|disable|enable|set-roles|reset-password|delete`:
 * an operator's hands on the accounts without the admin API, with the rules of the server (the
 * users room's createUser, the password policy, the last enabled admin kept, sessions ended as the
 * admin API ends them). Each subcommand parses strictly before it touches the database; results
 * go to stdout, errors to stderr (exit 1). Actions are recorded as security events with
 * `via: "cli"`.
 */
import type { Config } from '../../config.js';
import { newId } from '../../lib/ids.js';
import { parseCommandArgs, UsageError } from '../../lib/cli-args.js';
import { readPassword } from '../../lib/terminal.js';
import type { Failure } from '../../outcome.js';
import type { PasswordHasher } from '../../passwords/hasher.js';
import type { SessionRecord, Store, UserRecord } from '../../store/types.js';
import { ADMIN_ROLE, normaliseEmail, ROLE_PATTERN } from './fields.js';
import { createUser, deleteUser, grantRole, LAST_ADMIN_DETAIL } from './service.js';

/** What a subcommand is given: the store (opened by the CLI, which names the database), a clock. */
export interface UsersCommandDeps {
  config: Config;
  clock: () => number;
  /** Opens the database (migrated) for `fn` and closes it; the CLI prints which database it is. */
  withStore<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  /** A password hasher with the server's settings, for create and reset-password; closed after use. */
  hasher(): Promise<PasswordHasher>;
  out(line: string): void;
  fail(message: string): number;
}

export const USERS_USAGE = `usage: latchkey users <command>
  list [--search TEXT] [--role ROLE] [--disabled|--enabled] [--verified|--unverified] [--limit N]
  show USER
  create --email EMAIL [--name NAME] [--role ROLE]... [--verified]
  create-admin --email EMAIL [--name NAME]
  disable USER
  enable USER
  set-roles USER ROLE... | --none [--end-sessions]
  reset-password USER
  delete USER --yes
  import FILE --format mongo|sql|kv|jsonl ...   (docs/import.md)
  export --format jsonl [--output FILE]
USER is an email address or a user id. Passwords come from LATCHKEY_PASSWORD
(create-admin: LATCHKEY_ADMIN_PASSWORD), a prompt on the terminal, or the first line on stdin.`;

const ROLE = new RegExp(ROLE_PATTERN);

function usage(sub: string): string {
  const line = USERS_USAGE.split('\n').find((l) => l.trim().startsWith(`${sub} `) || l.trim() === sub);
  return line ? `usage: latchkey users ${line.trim()}` : USERS_USAGE;
}

/** A service failure as one line: its field messages (each names its field), else its detail. */
export function describeFailure(f: Failure): string {
  return f.fields?.map((e) => e.message).join(' ') || f.detail || f.code;
}

async function findUser(store: Store, ref: string): Promise<UserRecord | null> {
  return ref.includes('@') ? store.findUserByEmail(normaliseEmail(ref)) : store.findUserById(ref);
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function userRow(u: UserRecord): string {
  return [u.id, u.email, u.name ?? '-', u.roles.join(',') || '-', u.emailVerified ? 'verified' : 'unverified', u.disabled ? 'disabled' : 'active', iso(u.createdAt)].join('\t');
}

function checkRoles(roles: string[], sub: string): string[] {
  for (const role of roles) {
    if (!ROLE.test(role)) throw new UsageError(`"${role}" is not a role name: lower-case letters, digits, _ . : - (1 to 64)`, usage(sub));
  }
  if (roles.length > 32) throw new UsageError('at most 32 roles', usage(sub));
  return [...new Set(roles)];
}

/** Records what the command did on the user's security events (never failing the command). */
async function record(store: Store, clock: () => number, userId: string, type: string, detail: Record<string, unknown>): Promise<void> {
  await store
    .recordEvent({ id: newId(), userId, type, ip: null, userAgent: null, detail: { via: 'cli', ...detail }, createdAt: clock() })
    .catch(() => undefined);
}

async function list(deps: UsersCommandDeps, args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      search: { type: 'string' },
      role: { type: 'string' },
      disabled: { type: 'boolean' },
      enabled: { type: 'boolean' },
      verified: { type: 'boolean' },
      unverified: { type: 'boolean' },
      limit: { type: 'string' },
    },
    usage('list'),
  );
  if (values.disabled && values.enabled) throw new UsageError('--disabled and --enabled exclude each other', usage('list'));
  if (values.verified && values.unverified) throw new UsageError('--verified and --unverified exclude each other', usage('list'));
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new UsageError('--limit must be a whole number from 1 to 100000', usage('list'));
  return deps.withStore(async (store) => {
    const query = {
      search: values.search ?? null,
      role: values.role ?? null,
      disabled: values.disabled ? true : values.enabled ? false : null,
      emailVerified: values.verified ? true : values.unverified ? false : null,
    };
    const users: UserRecord[] = [];
    let cursor: string | null = null;
    // One more than asked, to know whether there are more.
    do {
      const page = await store.listUsers({ ...query, cursor, limit: Math.min(200, limit + 1 - users.length) });
      users.push(...page.users);
      cursor = page.nextCursor;
    } while (cursor !== null && users.length <= limit);
    const filtered = Object.values(query).some((v) => v !== null);
    if (users.length === 0) {
      deps.out(filtered ? 'no users match' : 'no users yet: create one with `latchkey users create` or `latchkey users create-admin`');
      return 0;
    }
    deps.out(['id', 'email', 'name', 'roles', 'verified', 'status', 'created'].join('\t'));
    for (const u of users.slice(0, limit)) deps.out(userRow(u));
    if (users.length > limit) process.stderr.write(`latchkey: more users than --limit ${limit}: raise it or narrow the list (--search, --role)\n`);
    return 0;
  });
}

async function show(deps: UsersCommandDeps, args: string[]): Promise<number> {
  const { positionals } = parseCommandArgs(args, {}, usage('show'), { min: 1, max: 1 });
  return deps.withStore(async (store) => {
    const user = await findUser(store, positionals[0]!);
    if (!user) return deps.fail(`no user with the email address or id "${positionals[0]}"`);
    const now = deps.clock();
    const [sessions, events] = await Promise.all([store.listSessions(user.id, now), store.listEvents(user.id, 10)]);
    deps.out(`id:        ${user.id}`);
    deps.out(`email:     ${user.email} (${user.emailVerified ? 'verified' : 'not verified'})`);
    deps.out(`name:      ${user.name ?? '-'}`);
    deps.out(`roles:     ${user.roles.join(', ') || '-'}`);
    deps.out(`status:    ${user.disabled ? 'disabled' : 'active'}`);
    deps.out(`created:   ${iso(user.createdAt)}`);
    deps.out(`updated:   ${iso(user.updatedAt)}`);
    deps.out(`sessions:  ${sessions.length} live`);
    for (const s of sessions as SessionRecord[]) deps.out(`  ${s.id}  last used ${iso(s.lastUsedAt)}  ${s.ip ?? '-'}  ${s.userAgent ?? '-'}`);
    deps.out(`events:    ${events.length === 0 ? 'none' : `the last ${events.length}`}`);
    for (const e of events) deps.out(`  ${iso(e.createdAt)}  ${e.type}${e.ip ? `  ${e.ip}` : ''}`);
    return 0;
  });
}

async function create(deps: UsersCommandDeps, args: string[], admin: boolean): Promise<number> {
  const sub = admin ? 'create-admin' : 'create';
  const { values } = admin
    ? parseCommandArgs(args, { email: { type: 'string' }, name: { type: 'string' } }, usage(sub))
    : parseCommandArgs(args, { email: { type: 'string' }, name: { type: 'string' }, role: { type: 'string', multiple: true }, verified: { type: 'boolean' } }, usage(sub));
  const email = values.email as string | undefined;
  if (!email) throw new UsageError('--email is required', usage(sub));
  const roles = admin ? [ADMIN_ROLE] : checkRoles((values as { role?: string[] }).role ?? [], sub);
  const { isValidEmail } = await import('./fields.js');
  // Checked before asking for the password (createUser checks both again).
  if (!isValidEmail(normaliseEmail(email))) return deps.fail(`not an email address: ${email}`);
  const { checkPasswordPolicy } = await import('../../passwords/policy.js');
  const password = await readPassword(admin ? 'LATCHKEY_ADMIN_PASSWORD' : 'LATCHKEY_PASSWORD', 'Password: ');
  const policy = checkPasswordPolicy('password', password);
  if (policy) return deps.fail(policy.message);
  const hasher = await deps.hasher();
  try {
    return await deps.withStore(async (store) => {
      const userDeps = { store, hasher, clock: deps.clock };
      const verified = admin || (values as { verified?: boolean }).verified === true;
      const created = await createUser(userDeps, { email, password, name: values.name as string | undefined, roles, emailVerified: verified });
      if (created.ok) {
        await record(store, deps.clock, created.value.id, 'admin_user_created', {});
        deps.out(`${admin ? 'admin' : 'user'} ${created.value.email} created (id ${created.value.id})`);
        return 0;
      }
      if (!admin || created.code !== 'EMAIL_TAKEN') return deps.fail(describeFailure(created));
      const granted = await grantRole(userDeps, email, ADMIN_ROLE);
      if (!granted.ok) return deps.fail(describeFailure(granted));
      deps.out(`${granted.value.email} already exists; role admin granted (password unchanged)`);
      return 0;
    });
  } finally {
    await hasher.close();
  }
}

/** disable, enable, set-roles: one change through the last-admin guard, sessions ended as the admin API ends them. */
async function update(deps: UsersCommandDeps, sub: 'disable' | 'enable' | 'set-roles', args: string[]): Promise<number> {
  const parsed =
    sub === 'set-roles'
      ? parseCommandArgs(args, { none: { type: 'boolean' }, 'end-sessions': { type: 'boolean' } }, usage(sub), { min: 1, max: 33 })
      : parseCommandArgs(args, {}, usage(sub), { min: 1, max: 1 });
  const [ref, ...roleArgs] = parsed.positionals;
  const values = parsed.values as { none?: boolean; 'end-sessions'?: boolean };
  let roles: string[] | undefined;
  if (sub === 'set-roles') {
    if (values.none && roleArgs.length > 0) throw new UsageError('--none takes no roles', usage(sub));
    if (!values.none && roleArgs.length === 0) throw new UsageError('give the roles, or --none to remove every role', usage(sub));
    roles = checkRoles(roleArgs, sub);
  }
  return deps.withStore(async (store) => {
    const user = await findUser(store, ref!);
    if (!user) return deps.fail(`no user with the email address or id "${ref}"`);
    const patch = sub === 'set-roles' ? { roles } : { disabled: sub === 'disable' };
    const now = deps.clock();
    const result = await store.updateUserKeepingRole(user.id, patch, now, ADMIN_ROLE);
    if (result.kind === 'not_found') return deps.fail(`no user with the email address or id "${ref}"`);
    if (result.kind === 'last_holder') return deps.fail(LAST_ADMIN_DETAIL);
    // Only a changed email can collide, and these commands change none.
    if (result.kind === 'email_taken') return deps.fail('another account already has this email address');
    const { before, user: after } = result;
    const rolesChanged = sub === 'set-roles' && (before.roles.length !== after.roles.length || before.roles.some((r) => !after.roles.includes(r)));
    const disabledNow = after.disabled && !before.disabled;
    const endSessions = disabledNow || (rolesChanged && (values['end-sessions'] ?? deps.config.sessions.roleChangeEndsSessions));
    const ended = endSessions ? await store.revokeUserSessions(user.id, disabledNow ? 'disabled_by_admin' : 'roles_changed', now) : 0;
    await record(store, deps.clock, user.id, 'admin_user_updated', { changes: [sub === 'set-roles' ? 'roles' : 'disabled'], sessions_revoked: ended });
    const what =
      sub === 'set-roles'
        ? rolesChanged
          ? `roles of ${after.email}: ${after.roles.join(', ') || 'none'}`
          : `${after.email} already has exactly these roles`
        : `${after.email} ${sub === 'disable' ? (disabledNow ? 'disabled' : 'was already disabled') : before.disabled ? 'enabled' : 'was already enabled'}`;
    const sessions = endSessions
      ? `; ${ended} session(s) ended`
      : rolesChanged
        ? '; sessions kept: the new roles reach them at their next refresh (--end-sessions to end them)'
        : '';
    deps.out(what + sessions);
    return 0;
  });
}

async function resetPassword(deps: UsersCommandDeps, args: string[]): Promise<number> {
  const { positionals } = parseCommandArgs(args, {}, usage('reset-password'), { min: 1, max: 1 });
  // The account is looked up before the password is asked for: no prompt for a typo.
  const found = await deps.withStore((store) => findUser(store, positionals[0]!));
  if (!found) return deps.fail(`no user with the email address or id "${positionals[0]}"`);
  const { checkPasswordPolicy } = await import('../../passwords/policy.js');
  const password = await readPassword('LATCHKEY_PASSWORD', `New password for ${found.email}: `);
  const policy = checkPasswordPolicy('password', password);
  if (policy) return deps.fail(policy.message);
  const hasher = await deps.hasher();
  try {
    const hash = await hasher.hash(password);
    return await deps.withStore(async (store) => {
      const now = deps.clock();
      if (!(await store.setPasswordHash(found.id, hash, now))) return deps.fail(`the user ${found.email} no longer exists`);
      // As a reset by mail: every session ends, and any reset link still in a mailbox dies.
      const ended = await store.revokeUserSessions(found.id, 'password_reset', now);
      await store.deleteOneTimeTokens(found.id, 'reset_password');
      await record(store, deps.clock, found.id, 'password_reset', { sessions_revoked: ended });
      deps.out(`password of ${found.email} reset; ${ended} session(s) ended`);
      return 0;
    });
  } finally {
    await hasher.close();
  }
}

async function remove(deps: UsersCommandDeps, args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { yes: { type: 'boolean' } }, usage('delete'), { min: 1, max: 1 });
  return deps.withStore(async (store) => {
    const user = await findUser(store, positionals[0]!);
    if (!user) return deps.fail(`no user with the email address or id "${positionals[0]}"`);
    if (!values.yes) return deps.fail(`this deletes ${user.email} with their sessions and security events; add --yes to confirm`);
    const deleted = await deleteUser({ store, clock: deps.clock }, user.id);
    if (!deleted.ok) return deps.fail(describeFailure(deleted));
    deps.out(`deleted ${user.email} (id ${user.id})`);
    return 0;
  });
}

/**
 * Runs `latchkey users SUB ...` (import and export are the user-transfer room's). Throws
 * UsageError for a command line it cannot run, and NoPasswordError when no password can be read.
 *
 * @example
 * process.exitCode = await runUsersCommand(deps, 'disable', ['ann@example.com']);
 */
export async function runUsersCommand(deps: UsersCommandDeps, sub: string | undefined, args: string[]): Promise<number> {
  switch (sub) {
    case 'list':
      return list(deps, args);
    case 'show':
      return show(deps, args);
    case 'create':
      return create(deps, args, false);
    case 'create-admin':
      return create(deps, args, true);
    case 'disable':
    case 'enable':
    case 'set-roles':
      return update(deps, sub, args);
    case 'reset-password':
      return resetPassword(deps, args);
    case 'delete':
      return remove(deps, args);
    default:
      throw new UsageError(sub ? `unknown command "users ${sub}"` : 'which users command?', USERS_USAGE);
  }
}
