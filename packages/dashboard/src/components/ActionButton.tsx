import { useState, type ReactNode } from 'react';
import { errorMessage } from '../lib/session';

/**
 * A button that runs an async action: disabled while it runs, the error shown next to it.
 * With `confirm`, the first press asks ("Revoke? Yes / No") instead of a browser dialog.
 */
export function ActionButton({
  children,
  action,
  confirm,
  variant = 'default',
  label,
}: {
  children: ReactNode;
  action: () => Promise<unknown>;
  confirm?: string;
  variant?: 'default' | 'primary' | 'danger';
  label?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async () => {
    setAsking(false);
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const cls = `btn ${variant === 'default' ? '' : variant}`;
  return (
    <span className="action">
      {asking ? (
        <span className="confirm" role="group" aria-label={confirm}>
          <span>{confirm}</span>
          <button type="button" className="btn danger small" onClick={() => void run()} autoFocus>
            Yes
          </button>
          <button type="button" className="btn small" onClick={() => setAsking(false)}>
            No
          </button>
        </span>
      ) : (
        <button
          type="button"
          className={cls}
          disabled={busy}
          aria-label={label}
          onClick={() => (confirm ? setAsking(true) : void run())}
        >
          {busy ? '…' : children}
        </button>
      )}
      {error !== null && (
        <span className="inline-error" role="alert">
          {errorMessage(error)}
        </span>
      )}
    </span>
  );
}
