import {
  OffloadApiError,
  OffloadNetworkError,
  type Scope,
  type Whoami,
} from '@offload/client/browser';
import { DashboardClient } from './dashboard-client';

const STORAGE_KEY = 'offload.dashboard.key';

/** What the key may do; the UI shows only the actions it allows. */
export interface Permissions {
  submit: boolean;
  cancel: boolean;
  admin: boolean;
}

export interface Session {
  client: DashboardClient;
  key: string;
  can: Permissions;
}

export function storedKey(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function forgetKey(): void {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage disabled: nothing was kept
  }
}

/** Why a login failed, in words for the login form. */
export class LoginError extends Error {
  override name = 'LoginError';
}

/** Checks the key against the server (`whoami`) and finds what it may do. Nothing is changed. */
export async function login(key: string, remember = true): Promise<Session> {
  const client = new DashboardClient({ url: window.location.origin, apiKey: key });
  let me: Whoami;
  try {
    me = await client.whoami();
  } catch (err) {
    throw new LoginError(loginProblem(err), { cause: err });
  }
  const has = (scope: Scope) => me.scopes.includes(scope);
  if (!has('read'))
    throw new LoginError('This key is valid but lacks the `read` scope the dashboard needs.');
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, key);
    } catch {
      // private mode: the session lasts until the tab closes
    }
  }
  return {
    client,
    key,
    can: { admin: has('admin'), cancel: has('cancel'), submit: has('submit') },
  };
}

function loginProblem(err: unknown): string {
  if (err instanceof OffloadApiError) {
    if (err.status === 401)
      return 'This key was rejected: it is unknown, revoked or expired. Check it and try again.';
    if (err.status === 403)
      return 'This is not an API key (an agent credential or a join token?): sign in with an API key.';
    return `The server refused the login: ${err.message}`;
  }
  if (err instanceof OffloadNetworkError)
    return 'The server does not answer. Is it running? Check the address and your connection.';
  return err instanceof Error ? err.message : String(err);
}

/** A short sentence for any error a page shows. */
export function errorMessage(err: unknown): string {
  if (err instanceof OffloadApiError) return `${err.message} (${err.code})`;
  if (err instanceof OffloadNetworkError) return 'The server does not answer; retrying may help.';
  return err instanceof Error ? err.message : String(err);
}
