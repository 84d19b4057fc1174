import { ActionButton } from '../components/ActionButton';
import { JobOutcome } from '../components/JobOutcome';
import { JobSpec } from '../components/JobSpec';
import { JobTimeline } from '../components/JobTimeline';
import { Link } from '../components/Link';
import { LogTail } from '../components/LogTail';
import { PageHeader } from '../components/PageHeader';
import { RelTime } from '../components/RelTime';
import { StateBadge } from '../components/StateBadge';
import { ErrorBox, Loading } from '../components/Status';
import { useAsync, useThrottled } from '../hooks/use-async';
import { useJobEvents, useResync } from '../hooks/use-live';
import { useSession } from '../hooks/use-session';
import { agentHref } from '../lib/attempts';
import { canCancel, canRetry } from '../lib/job-states';

export function JobDetailPage({ id }: { id: string }) {
  const { client, can } = useSession();
  const job = useAsync(() => client.get(id), [client, id]);
  const attempts = useAsync(() => client.attempts(id), [client, id]);
  // An event that moves the job (an attempt starts or ends) means the list changed: re-read
  // it, at most once a second; progress events change no attempt.
  const reloadAttempts = useThrottled(attempts.reload, 1_000);
  useResync(() => {
    job.reload();
    attempts.reload();
  });
  useJobEvents((e) => {
    if (e.job.id !== id) return;
    job.setData(() => e.job);
    if (e.type !== 'job.progress') reloadAttempts();
  });

  if (job.status === 'loading') return <Loading what="the job" />;
  if (!job.data)
    return (
      <>
        <p>
          <Link href="/jobs">← Jobs</Link>
        </p>
        <ErrorBox error={job.error} onRetry={job.reload} />
      </>
    );
  const j = job.data;
  return (
    <article aria-labelledby="page-title" className="job-detail">
      <p className="crumbs">
        <Link href="/jobs">← Jobs</Link>
      </p>
      <PageHeader
        title={
          <span id="page-title">
            {j.name} <StateBadge state={j.state} />
          </span>
        }
      >
        {can.cancel && canCancel(j) && (
          <ActionButton
            variant="danger"
            action={() => client.cancel(j.id).then((x) => job.setData(() => x))}
          >
            {j.cancelRequested ? 'Cancelling…' : 'Cancel job'}
          </ActionButton>
        )}
        {can.submit && canRetry(j) && (
          <ActionButton
            variant="primary"
            action={() => client.retry(j.id).then((x) => job.setData(() => x))}
          >
            Retry job
          </ActionButton>
        )}
      </PageHeader>
      <p className="meta-line muted">
        <span className="mono">{j.id}</span> · created <RelTime at={j.createdAt} />
        {j.agent && (
          <>
            {' '}
            · agent{' '}
            <Link href={agentHref(j.agent.id)}>
              <strong>{j.agent.name}</strong>
            </Link>
          </>
        )}
      </p>
      {job.status === 'error' && <ErrorBox error={job.error} onRetry={job.reload} />}
      <div className="detail-layout">
        <div className="stack">
          <JobOutcome job={j} />
          <LogTail job={j} />
        </div>
        <div className="stack">
          <JobTimeline job={j} attempts={attempts} />
          <JobSpec job={j} />
        </div>
      </div>
    </article>
  );
}
