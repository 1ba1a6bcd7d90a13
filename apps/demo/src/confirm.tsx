import { ReauthenticationRequiredError, type ReauthenticationMethod } from '@latchkey/client';
import { useAuth } from '@latchkey/client/react';
import { useState, type ReactNode } from 'react';
import { Alert, describe, Field, isCode, useAction } from './forms.tsx';
import { go } from './route.ts';

/**
 * "Confirm it's you": the step-up dialog for an action the server refused with
 * REAUTHENTICATION_REQUIRED. It asks for what the account can confirm with (the error's
 * `methods`: the password, a code or recovery code, a passkey), reauthenticates, then calls
 * `onConfirmed` so that the action is sent again.
 */
export function ConfirmDialog({
  methods,
  onConfirmed,
  onCancel,
}: {
  methods: readonly ReauthenticationMethod[];
  onConfirmed: () => void;
  onCancel: () => void;
}): ReactNode {
  const { reauthenticate, reauthenticateWithPasskey, logout } = useAuth();
  const [value, setValue] = useState('');
  const withPassword = methods.includes('password');
  const withCode = methods.includes('code') || methods.includes('recovery_code');
  const confirm = useAction(async (how: 'typed' | 'passkey') => {
    if (how === 'passkey') await reauthenticateWithPasskey();
    else if (withPassword) await reauthenticate({ password: value });
    else {
      const typed = value.trim();
      // Six digits: the app's code; anything else: a recovery code.
      await reauthenticate(/^\d{6}$/.test(typed) ? { code: typed } : { recoveryCode: typed });
    }
    onConfirmed();
  });
  const error = confirm.error;
  if (methods.length === 0) {
    // An account from a social sign-in with no password, code or passkey: a new sign-in through
    // its provider is the only proof it has (docs/social-login.md, "Step-up").
    return (
      <div className="notice" role="dialog" aria-labelledby="confirm-heading">
        <h2 id="confirm-heading">Confirm it's you</h2>
        <p>For your safety, sign in again (with the account you signed in with) to continue.</p>
        <div className="actions">
          <button type="button" className="button-primary" onClick={() => void logout().then(() => go('login'))}>
            Sign out and sign in again
          </button>
          <button type="button" className="button-quiet" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </div>
    );
  }
  return (
    <div className="notice" role="dialog" aria-labelledby="confirm-heading">
      <h2 id="confirm-heading">Confirm it's you</h2>
      <p>
        {withPassword
          ? 'For your safety, enter your password again to continue.'
          : withCode
            ? 'For your safety, enter a code from your authenticator app, or one of your recovery codes, to continue.'
            : 'For your safety, confirm with one of your passkeys to continue.'}
      </p>
      {error ? (
        <Alert kind="error">
          {isCode(error, 'INVALID_CREDENTIALS')
            ? 'That password is not correct.'
            : isCode(error, 'INVALID_MFA_CODE')
              ? 'That code is not correct (or was already used).'
              : describe(error)}
        </Alert>
      ) : null}
      {withPassword || withCode ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void confirm.run('typed');
          }}
        >
          {withPassword ? (
            <Field label="Password" name="confirm-password" type="password" autoComplete="current-password" value={value} onChange={setValue} required />
          ) : (
            <Field label="Code or recovery code" name="proof" autoComplete="one-time-code" value={value} onChange={setValue} required />
          )}
          <div className="actions">
            <button type="submit" className="button-primary" disabled={confirm.busy}>
              Confirm
            </button>
            {methods.includes('passkey') ? (
              <button type="button" className="button-quiet" disabled={confirm.busy} onClick={() => void confirm.run('passkey')}>
                Use a passkey
              </button>
            ) : null}
            <button type="button" className="button-quiet" onClick={onCancel}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <div className="actions">
          <button type="button" className="button-primary" disabled={confirm.busy} onClick={() => void confirm.run('passkey')}>
            Use a passkey
          </button>
          <button type="button" className="button-quiet" onClick={onCancel}>
            Cancel
          </button>
        </div>
      )}
    </div>
  );
}

/**
 * Runs an action the server may refuse with REAUTHENTICATION_REQUIRED; then keeps it pending,
 * shows the ConfirmDialog (`prompt`), and sends it again once the user has confirmed.
 *
 * @example
 * const remove = useStepUp(async (id: string) => removePasskey(id));
 * <button onClick={() => remove.start(p.id)}>Remove</button>{remove.prompt}
 */
export function useStepUp<A extends unknown[]>(change: (...args: A) => Promise<unknown>) {
  const [pending, setPending] = useState<{ args: A; methods: readonly ReauthenticationMethod[] } | null>(null);
  const action = useAction(async (...args: A) => {
    try {
      await change(...args);
      setPending(null);
    } catch (error) {
      if (error instanceof ReauthenticationRequiredError) {
        setPending({ args, methods: error.methods });
        return;
      }
      setPending(null);
      throw error;
    }
  });
  return {
    ...action,
    pending,
    start: (...args: A) => action.run(...args),
    prompt: pending ? (
      <ConfirmDialog methods={pending.methods} onConfirmed={() => void action.run(...pending.args)} onCancel={() => setPending(null)} />
    ) : null,
  };
}
