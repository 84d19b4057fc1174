import type { ReactNode } from 'react';
import { errorMessage } from '../lib/session';

export function Loading({ what }: { what: string }) {
  return (
    <div className="status-box" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </div>
  );
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  return (
    <div className="status-box error" role="alert">
      <strong>Something went wrong.</strong> {errorMessage(error)}
      {onRetry && (
        <button type="button" className="btn small" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="status-box empty">{children}</div>;
}
