import type { Job } from '@offload/client/browser';
import { RelTime } from './RelTime';
import { StateBadge } from './StateBadge';

/** One change seen while the page was open (from the live events). */
export interface Observed {
  type: string;
  at: string;
  state: string;
  attempt: number;
  agent?: string | undefined;
  detail?: string | undefined;
}

/**
 * The job's history: what its timestamps say (created, queued, the current attempt's start
 * on its agent, the end), merged with every change seen live while this page was open —
 * retries and hand-backs included, each with its attempt and agent. The API keeps no list of
 * past attempts, so attempts that ended before the page was opened show as their count only.
 */
export function JobTimeline({ job, observed }: { job: Job; observed: readonly Observed[] }) {
  const entries: Observed[] = [
    { type: 'created', at: job.createdAt, state: 'created', attempt: 1 },
  ];
  if (job.queuedAt)
    entries.push({ type: 'queued', at: job.queuedAt, state: 'queued', attempt: job.attempt });
  if (job.startedAt)
    entries.push({
      type: 'started',
      at: job.startedAt,
      state: 'running',
      attempt: job.attempt,
      agent: job.agent?.name,
    });
  if (job.finishedAt)
    entries.push({
      type: 'finished',
      at: job.finishedAt,
      state: job.state,
      attempt: job.attempt,
      agent: job.agent?.name,
      detail: job.error ? `${job.error.code}: ${job.error.message}` : undefined,
    });
  // Live observations add what the timestamps cannot show (earlier attempts, retries, progress stages).
  const seen = new Set(entries.map((e) => `${e.state}|${e.attempt}`));
  for (const o of observed) {
    const k = `${o.state}|${o.attempt}`;
    if (o.type === 'job.progress' || seen.has(k)) continue;
    seen.add(k);
    entries.push(o);
  }
  entries.sort((a, b) => a.at.localeCompare(b.at));
  return (
    <section className="card" aria-labelledby="timeline-title">
      <h2 id="timeline-title">Timeline</h2>
      {job.attempt > 1 && (
        <p className="muted small">
          Attempt {job.attempt} of {job.maxAttempts}; {job.attempt - 1} earlier{' '}
          {job.attempt === 2 ? 'attempt' : 'attempts'}.
        </p>
      )}
      <ol className="timeline">
        {entries.map((e, i) => (
          <li key={i} className={`tl-${e.state}`}>
            <span className="tl-dot" aria-hidden="true" />
            <div className="tl-body">
              <div>
                <StateBadge state={e.state} />{' '}
                <span className="muted small">attempt {e.attempt}</span>
                {e.agent && (
                  <span className="small">
                    {' '}
                    on <strong>{e.agent}</strong>
                  </span>
                )}
              </div>
              {e.detail && <div className="small mono wrap">{e.detail}</div>}
              <RelTime at={e.at} />
            </div>
          </li>
        ))}
      </ol>
    </section>
  );
}
