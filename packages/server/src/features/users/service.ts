/**
 * The user's room: the one way a user is created (register, the admin API, `latchkey users
 * create-admin`; an admin's invitation creates one without a password; the importer builds its
 * rows with `userFields` and `newUser`), the one email rule, profile changes, and deletion.
 * Callers record their own security events and send their own mail.
 */
import type { LatchkeyContext } from '../../context.js';
import { newId } from '../../lib/ids.js';
import { failure, invalid, success, type Failure, type Outcome } from '../../outcome.js';
import { FEDERATED_ONLY_HASH, isInvitationPending, NO_PASSWORD_HASH } from '../../passwords/no-password.js';
import { checkPasswordPolicy } from '../../passwords/policy.js';
import type { NewUser, UserRecord } from '../../store/types.js';
import { ADMIN_ROLE, isValidEmail, MAX_NAME_LENGTH, normaliseEmail, normaliseName } from './fields.js';

/** What creating a user needs: the CLI builds just these, the server passes its context. */
export type UserDeps = Pick<LatchkeyContext, 'store' | 'hasher' | 'clock'>;

export interface UserFieldsInput {
  email: string;
  name?: string | null | undefined;
  roles?: readonly string[] | undefined;
  emailVerified?: boolean | undefined;
  disabled?: boolean | undefined;
}

/** A user's fields as they are stored: normalised and checked. */
export interface UserFields {
  email: string;
  name: string | null;
  roles: string[];
  emailVerified: boolean;
  disabled: boolean;
}

/**
 * The one email rule, for a new address anywhere (a new user, an admin's change): trimmed and
 * lower-cased, and valid (VALIDATION_FAILED on the field `email` otherwise).
 *
 * @example
 * const email = checkedEmail(' Ann@Example.com '); // { ok: true, value: 'ann@example.com' }
 */
export function checkedEmail(input: string): Outcome<string> {
  const email = normaliseEmail(input);
  if (!isValidEmail(email)) {
    return invalid({ field: 'email', message: 'Email must be an email address, like name@example.com.' });
  }
  return success(email);
}

/**
 * Normalises and checks a user's fields: the email (trimmed, lower-cased, a valid address), the
 * name (trimmed, null when empty, at most 200 characters) and the roles (duplicates dropped).
 *
 * @example
 * const fields = userFields({ email: ' Ann@Example.com ', name: 'Ann' });
 * if (!fields.ok) return fields; // VALIDATION_FAILED, with the field
 */
export function userFields(input: UserFieldsInput): Outcome<UserFields> {
  const checked = checkedEmail(input.email);
  if (!checked.ok) return checked;
  const email = checked.value;
  const name = normaliseName(input.name);
  if (name !== null && name.length > MAX_NAME_LENGTH) {
    return invalid({ field: 'name', message: `Name must be at most ${MAX_NAME_LENGTH} characters.` });
  }
  return success({
    email,
    name,
    roles: [...new Set(input.roles ?? [])],
    emailVerified: input.emailVerified ?? false,
    disabled: input.disabled ?? false,
  });
}

/**
 * The row the store inserts for a user: checked fields plus a password hash and times. A new
 * random id unless `id` is given (the importer keeps UUIDs of the source).
 *
 * @example
 * await store.createUser(newUser(fields, await hasher.hash(password), clock()));
 */
export function newUser(
  fields: UserFields,
  passwordHash: string,
  createdAt: number,
  options: { id?: string; updatedAt?: number } = {},
): NewUser & { disabled: boolean; updatedAt: number } {
  return {
    id: options.id ?? newId(),
    email: fields.email,
    name: fields.name,
    passwordHash,
    roles: fields.roles,
    emailVerified: fields.emailVerified,
    disabled: fields.disabled,
    createdAt,
    updatedAt: options.updatedAt ?? createdAt,
  };
}

export interface CreateUserInput extends UserFieldsInput {
  password: string;
}

const emailTaken = (): Failure => failure('EMAIL_TAKEN', 'An account with this email already exists.');

/**
 * Creates a user with a password: the fields are checked, the password against the policy, and
 * one account per normalised email (EMAIL_TAKEN). The only path to a new user with a password.
 *
 * @example
 * const created = await createUser(ctx, { email, password, roles: ['admin'], emailVerified: true });
 * if (!created.ok) console.error(created.detail);
 */
export async function createUser(deps: UserDeps, input: CreateUserInput): Promise<Outcome<UserRecord>> {
  const fields = userFields(input);
  if (!fields.ok) return fields;
  const policy = checkPasswordPolicy('password', input.password);
  if (policy) return invalid(policy);
  // Checked before hashing so that a duplicate costs no hash; the unique index still decides.
  if (await deps.store.findUserByEmail(fields.value.email)) return emailTaken();
  const passwordHash = await deps.hasher.hash(input.password);
  const user = await deps.store.createUser(newUser(fields.value, passwordHash, deps.clock()));
  if (!user) return emailTaken();
  return success(user);
}

/**
 * Creates a user WITHOUT a password, for an invitation: the account exists (it can be listed,
 * changed, given roles) but nobody can sign in to it until its owner sets a password through the
 * mailed link (features/email/invite.ts). `created: false` is an account already invited and not
 * yet accepted (a second invitation: the caller mails a new link; name and roles stay as they
 * are); an account with a password is EMAIL_TAKEN. One account per normalised email, decided by
 * the unique index.
 *
 * @example
 * const invited = await createInvitedUser(ctx, { email: 'new@example.com', roles: ['editor'] });
 * if (invited.ok) scheduleInviteMail(ctx, invited.value.user);
 */
export async function createInvitedUser(deps: UserDeps, input: UserFieldsInput): Promise<Outcome<{ user: UserRecord; created: boolean }>> {
  const fields = userFields({ ...input, emailVerified: false, disabled: false });
  if (!fields.ok) return fields;
  const existing = await deps.store.findUserByEmail(fields.value.email);
  if (existing) return isInvitationPending(existing.passwordHash) ? success({ user: existing, created: false }) : emailTaken();
  const user = await deps.store.createUser(newUser(fields.value, NO_PASSWORD_HASH, deps.clock()));
  if (user) return success({ user, created: true });
  // Another request created the address meanwhile: decide again on what it made.
  const raced = await deps.store.findUserByEmail(fields.value.email);
  return raced && isInvitationPending(raced.passwordHash) ? success({ user: raced, created: false }) : emailTaken();
}

/**
 * Creates a user from a social sign-in (features/social): no password (FEDERATED_ONLY_HASH; the
 * owner may set one through the reset flow), the roles of a new user, `emailVerified` as the
 * provider said. A name the provider gave that does not fit is dropped rather than refusing the
 * sign-in. EMAIL_TAKEN when the address has an account (the caller decides about linking).
 *
 * @example
 * const created = await createFederatedUser(ctx, { email: profile.email, name: profile.name, emailVerified: true });
 */
export async function createFederatedUser(
  deps: Pick<UserDeps, 'store' | 'clock'>,
  input: { email: string; name: string | null; emailVerified: boolean },
): Promise<Outcome<UserRecord>> {
  let fields = userFields({ email: input.email, name: input.name, emailVerified: input.emailVerified });
  if (!fields.ok && input.name !== null) fields = userFields({ email: input.email, name: null, emailVerified: input.emailVerified });
  if (!fields.ok) return fields;
  const user = await deps.store.createUser(newUser(fields.value, FEDERATED_ONLY_HASH, deps.clock()));
  return user ? success(user) : emailTaken();
}

/**
 * Adds a role to the user with this email (the CLI's create-admin for an existing account).
 *
 * @example
 * const granted = await grantRole(deps, 'ann@example.com', ADMIN_ROLE);
 */
export async function grantRole(deps: Pick<UserDeps, 'store' | 'clock'>, emailInput: string, role: string): Promise<Outcome<UserRecord>> {
  const existing = await deps.store.findUserByEmail(normaliseEmail(emailInput));
  if (!existing) return failure('NOT_FOUND', 'No user has this email address.');
  if (existing.roles.includes(role)) return success(existing);
  const user = await deps.store.updateUser(existing.id, { roles: [...existing.roles, role] }, deps.clock());
  if (!user) return failure('NOT_FOUND', 'No user has this email address.');
  return success(user);
}

/**
 * PATCH /auth/me: the caller's own profile (the name, for now).
 *
 * @example
 * const user = unwrap(await updateProfile(ctx, request.auth!.user.id, { name: 'Ann' }));
 */
export async function updateProfile(
  ctx: Pick<LatchkeyContext, 'store' | 'clock'>,
  userId: string,
  patch: { name?: string | null | undefined },
): Promise<Outcome<UserRecord>> {
  const name = patch.name === undefined ? undefined : normaliseName(patch.name);
  const user = await ctx.store.updateUser(userId, name === undefined ? {} : { name }, ctx.clock());
  if (!user) return failure('NOT_FOUND', 'The user no longer exists.');
  return success(user);
}

export const LAST_ADMIN_DETAIL = 'This is the last enabled admin; make another admin first.';

/**
 * Deletes a user with their sessions, tokens and events. The last enabled admin cannot be
 * deleted (LAST_ADMIN), so the server always keeps a way in; the store checks that under a lock,
 * in the transaction of the delete.
 *
 * @example
 * const deleted = await deleteUser(ctx, userId);
 * if (deleted.ok) await recordEvent(ctx, adminId, 'admin_user_deleted', meta, { user_id: userId });
 */
export async function deleteUser(ctx: Pick<LatchkeyContext, 'store' | 'clock'>, userId: string): Promise<Outcome<UserRecord>> {
  // `now`: the time of the revocation feed's entry for the user (docs/verify.md).
  const result = await ctx.store.deleteUserKeepingRole(userId, ADMIN_ROLE, ctx.clock());
  if (result.kind === 'not_found') return failure('NOT_FOUND', 'No such user.');
  if (result.kind === 'last_holder') return failure('LAST_ADMIN', LAST_ADMIN_DETAIL);
  return success(result.user);
}
