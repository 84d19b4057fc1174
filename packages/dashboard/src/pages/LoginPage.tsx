import { useState, type FormEvent } from 'react';
import { login, type Session } from '../lib/session';

export function LoginPage({
  onLogin,
  initialError,
}: {
  onLogin: (s: Session) => void;
  initialError: string | null;
}) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(initialError);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLogin(await login(key.trim()));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <form className="login-card" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
        <div className="brand large">
          <span className="brand-mark" aria-hidden="true" /> offload
        </div>
        <h1 id="login-title">Sign in to the dashboard</h1>
        <p className="muted">
          Use an API key with the <code>read</code> scope, or the admin token (printed by{' '}
          <code>offload start</code> and saved in <code>&lt;data dir&gt;/admin-token</code>). Keys
          without <code>submit</code>, <code>cancel</code> or <code>admin</code> see a read-only
          dashboard.
        </p>
        <label htmlFor="api-key">API key or admin token</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autoComplete="current-password"
          required
          autoFocus
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-invalid={error !== null}
          aria-describedby={error ? 'login-error' : undefined}
        />
        {error && (
          <p id="login-error" className="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="btn primary wide" disabled={busy || key.trim() === ''}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p className="muted small">
          The key is kept in this browser&apos;s local storage until you log out.
        </p>
      </form>
    </main>
  );
}
