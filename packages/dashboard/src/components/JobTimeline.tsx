import type { Attempt, Job } from '@offload/client/browser';
import { useNow } from '../hooks/use-now';
import type { AsyncState } from '../hooks/use-async';
import { agentHref, withLiveAttempt } from '../lib/attempts';
import { duration } from '../lib/format';
import { Link } from './Link';
import { RelTime } from './RelTime';
import { StateBadge } from './StateBadge';
import { ErrorBox } from './Status';

/** The state after the last attempt, when it says more than the attempts do. */
function current(job: Job): { state: string; at: string | undefined; text: string } | null {
  switch (job.state) {
    case 'scheduled':
      return job.attempt > 1
        ? { state: 'retrying', at: job.runAt, text: `attempt ${job.attempt} due` }
        : { state: 'scheduled', at: job.runAt, text: 'due' };
    case 'queued':
      return {
        state: 'queued',
        at: job.queuedAt,
        text: `attempt ${job.attempt} waiting for an agent since`,
      };
    case 'running':
      return null;
    default:
      return { state: job.state, at: job.finishedAt ?? undefined, text: 'finished' };
  }
}

/**
 * The job's history: created, then every attempt from the API (number, agent with a link
 * to its card, start, end, duration, outcome, exit code or signal, error), then where the
 * job is now (waiting for a retry, queued, or finished). The page re-reads the attempts
 * whenever a live event changes the job, so the list grows while it is open.
 */
export function JobTimeline({
  job,
  attempts,
}: {
  job: Job;
  attempts: AsyncState<Attempt[]> & { reload: () => void };
}) {
  const now = useNow();
  const list = attempts.data ? withLiveAttempt(attempts.data, job) : [];
  const tail = current(job);
  return (
    <section className="card" aria-labelledby="timeline-title">
      <h2 id="timeline-title">Timeline</h2>
      <p className="muted small">
        {list.length === 0
          ? 'No attempt yet.'
          : `${list.length} ${list.length === 1 ? 'attempt' : 'attempts'} (at most ${job.maxAttempts} automatic).`}
      </p>
      <ol className="timeline" aria-label="Attempts and state changes">
        <li className="tl-created">
          <span className="tl-dot" aria-hidden="true" />
          <div className="tl-body">
            <div>
              <StateBadge state="created" />
            </div>
            <RelTime at={job.createdAt} />
          </div>
        </li>
        {list.map((a) => {
          const end = a.endedAt ? Date.parse(a.endedAt) : now;
          return (
            <li
              key={`${a.startedAt}|${a.agent.id}`}
              className={`tl-${a.outcome} tl-attempt`}
              data-attempt={a.attempt}
              data-agent={a.agent.name}
              data-outcome={a.outcome}
            >
              <span className="tl-dot" aria-hidden="true" />
              <div className="tl-body">
                <div>
                  <strong>Attempt {a.attempt}</strong> on{' '}
                  <Link href={agentHref(a.agent.id)} className="agent-link">
                    {a.agent.name}
                  </Link>{' '}
                  <StateBadge state={a.outcome} />
                </div>
                <div className="small muted">
                  <RelTime at={a.startedAt} /> → {a.endedAt ? <RelTime at={a.endedAt} /> : 'now'} ·{' '}
                  {duration(end - Date.parse(a.startedAt))}
                </div>
                {(a.exitCode !== undefined || a.signal) && (
                  <div className="small">
                    {a.exitCode !== undefined && <>exit code {a.exitCode}</>}
                    {a.signal && <> signal {a.signal}</>}
                  </div>
                )}
                {a.error && (
                  <div className="small mono wrap">
                    {a.error.code}: {a.error.message}
                  </div>
                )}
              </div>
            </li>
          );
        })}
        {tail && (
          <li className={`tl-${tail.state}`}>
            <span className="tl-dot" aria-hidden="true" />
            <div className="tl-body">
              <div>
                <StateBadge state={tail.state} />
              </div>
              <span className="small muted">
                {tail.text} <RelTime at={tail.at} />
              </span>
            </div>
          </li>
        )}
      </ol>
      {attempts.status === 'loading' && (
        <p className="muted small" role="status">
          <span className="spinner" aria-hidden="true" /> Loading attempts…
        </p>
      )}
      {attempts.status === 'error' && <ErrorBox error={attempts.error} onRetry={attempts.reload} />}
    </section>
  );
}
