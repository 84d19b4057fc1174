import { useCallback, useEffect, useState } from 'react';
import { OffloadApiError } from '@offload/client/browser';
import { Layout } from './components/Layout';
import { Loading } from './components/Status';
import { SessionContext, type SessionContextValue } from './hooks/use-session';
import { LiveEvents } from './lib/live-events';
import { forgetKey, login, storedKey, type Session } from './lib/session';
import { LoginPage } from './pages/LoginPage';
import { Routes } from './Routes';

/** Logs in with the stored key (if any), then renders the app around one live event stream. */
export function App() {
  const [value, setValue] = useState<SessionContextValue | null>(null);
  const [restoring, setRestoring] = useState(() => storedKey() !== null);
  const [restoreError, setRestoreError] = useState<string | null>(null);

  const start = useCallback((session: Session) => {
    const live = new LiveEvents(session.client);
    const logout = () => {
      live.close();
      forgetKey();
      setValue(null);
      setRestoring(false);
    };
    // A key revoked (or expired) while signed in: back to the sign-in form, saying why.
    live.onAuthLost((status) => {
      logout();
      setRestoreError(
        status === 401
          ? 'Signed out: the server no longer accepts this key (revoked or expired).'
          : 'Signed out: this key no longer has the read scope.',
      );
    });
    setValue({ ...session, live, logout });
  }, []);

  useEffect(() => {
    const key = storedKey();
    if (key === null) return;
    let current = true;
    login(key).then(
      (s) => current && start(s),
      (err: unknown) => {
        if (!current) return;
        // Forget the key only when the server refused it; an unreachable server is no reason.
        const cause = err instanceof Error ? err.cause : undefined;
        if (cause instanceof OffloadApiError && (cause.status === 401 || cause.status === 403))
          forgetKey();
        setRestoreError(err instanceof Error ? err.message : String(err));
        setRestoring(false);
      },
    );
    return () => {
      current = false;
    };
  }, [start]);

  if (!value) {
    if (restoring) return <Loading what="your session" />;
    return <LoginPage onLogin={start} initialError={restoreError} />;
  }
  return (
    <SessionContext.Provider value={value}>
      <Layout>
        <Routes />
      </Layout>
    </SessionContext.Provider>
  );
}
