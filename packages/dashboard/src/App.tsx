import { useCallback, useEffect, useState } from 'react';
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
    setValue({
      ...session,
      live,
      logout: () => {
        live.close();
        forgetKey();
        setValue(null);
        setRestoring(false);
      },
    });
  }, []);

  useEffect(() => {
    const key = storedKey();
    if (key === null) return;
    let current = true;
    login(key).then(
      (s) => current && start(s),
      (err: unknown) => {
        if (!current) return;
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
