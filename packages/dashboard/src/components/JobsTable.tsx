import type { Job } from '@offload/client/browser';
import { duration } from '../lib/format';
import { jobPath } from '../lib/router';
import { Link } from './Link';
import { RelTime } from './RelTime';
import { StateBadge } from './StateBadge';

/** The jobs table; with `selection`, a checkbox per row (for bulk actions). */
export function JobsTable({
  jobs,
  selected,
  onToggle,
  onToggleAll,
  now,
}: {
  jobs: readonly Job[];
  selected?: ReadonlySet<string> | undefined;
  onToggle?: ((id: string) => void) | undefined;
  onToggleAll?: (() => void) | undefined;
  now: number;
}) {
  const selectable = selected !== undefined && onToggle !== undefined;
  const all = selectable && jobs.length > 0 && jobs.every((j) => selected.has(j.id));
  return (
    <div className="table-wrap">
      <table className="table jobs-table">
        <thead>
          <tr>
            {selectable && (
              <th className="check">
                <input
                  type="checkbox"
                  aria-label="Select all jobs on this page"
                  checked={all}
                  onChange={onToggleAll}
                />
              </th>
            )}
            <th>Job</th>
            <th>State</th>
            <th className="hide-sm">Queue</th>
            <th className="hide-sm">Agent</th>
            <th className="hide-sm num">Attempt</th>
            <th>Created</th>
            <th className="hide-sm num">Run time</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((j) => (
            <tr
              key={j.id}
              data-job-id={j.id}
              data-state={j.state}
              className={selected?.has(j.id) ? 'selected' : undefined}
            >
              {selectable && (
                <td className="check">
                  <input
                    type="checkbox"
                    aria-label={`Select ${j.name}`}
                    checked={selected.has(j.id)}
                    onChange={() => onToggle(j.id)}
                  />
                </td>
              )}
              <td>
                <div className="job-name">
                  <Link href={jobPath(j.id)}>{j.name}</Link>
                  <span className="muted mono small">{j.id}</span>
                </div>
              </td>
              <td>
                <StateBadge state={j.state} />
                {j.state === 'running' && j.progress?.percent !== undefined && (
                  <span className="muted small"> {Math.round(j.progress.percent)}%</span>
                )}
              </td>
              <td className="hide-sm">{j.queue}</td>
              <td className="hide-sm">{j.agent?.name ?? <span className="muted">—</span>}</td>
              <td className="hide-sm num">
                {j.attempt}/{j.maxAttempts}
              </td>
              <td>
                <RelTime at={j.createdAt} />
              </td>
              <td className="hide-sm num">{runTime(j, now)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function runTime(j: Job, now: number): string {
  if (j.usage) return duration(j.usage.wallSec * 1_000);
  if (!j.startedAt) return '—';
  const end = j.finishedAt ? Date.parse(j.finishedAt) : now;
  return duration(end - Date.parse(j.startedAt));
}
