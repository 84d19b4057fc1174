import type { Job } from '@offload/client/browser';

export function ProgressBar({ progress }: { progress: Job['progress'] }) {
  const pct = progress?.percent;
  return (
    <div className="progress">
      <div className="progress-label">
        <span>{progress?.stage ?? (pct === undefined ? 'No progress reported' : 'Progress')}</span>
        {pct !== undefined && <span className="num">{Math.round(pct)}%</span>}
      </div>
      <div
        className="progress-track"
        role="progressbar"
        aria-label="Job progress"
        aria-valuemin={0}
        aria-valuemax={100}
        {...(pct !== undefined && { 'aria-valuenow': pct })}
      >
        <div
          className={`progress-fill ${pct === undefined ? 'unknown' : ''}`}
          style={{ width: `${pct ?? 0}%` }}
        />
      </div>
      {progress?.message && <p className="muted small">{progress.message}</p>}
    </div>
  );
}
