import { createContext, useContext } from 'react';
import type { LiveEvents } from '../lib/live-events';
import type { Session } from '../lib/session';

export interface SessionContextValue extends Session {
  live: LiveEvents;
  logout: () => void;
}

export const SessionContext = createContext<SessionContextValue | null>(null);

/** The logged-in session: the SDK client, what the key may do, the live event stream. */
export function useSession(): SessionContextValue {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a logged-in app');
  return s;
}
