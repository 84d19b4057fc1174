import { useState } from 'react';
import { ActionButton } from '../components/ActionButton';
import { JobOutcome } from '../components/JobOutcome';
import { JobSpec } from '../components/JobSpec';
import { JobTimeline, type Observed } from '../components/JobTimeline';
import { Link } from '../components/Link';
import { LogTail } from '../components/LogTail';
import { PageHeader } from '../components/PageHeader';
import { RelTime } from '../components/RelTime';
import { StateBadge } from '../components/StateBadge';
import { ErrorBox, Loading } from '../components/Status';
import { useAsync } from '../hooks/use-async';
import { useJobEvents, useResync } from '../hooks/use-live';
import { useSession } from '../hooks/use-session';
import { canCancel, canRetry } from '../lib/job-states';

export function JobDetailPage({ id }: { id: string }) {
  const { client, can } = useSession();
  const job = useAsync(() => client.get(id), [client, id]);
  const [observed, setObserved] = useState<Observed[]>([]);
  useResync(job.reload);
  useJobEvents((e) => {
    if (e.job.id !== id) return;
    job.setData(() => e.job);
    setObserved((o) => [
      ...o,
      {
        type: e.type,
        at: new Date().toISOString(),
        state: e.type === 'job.retrying' ? 'retrying' : e.job.state,
        attempt: e.job.attempt,
        agent: e.job.agent?.name,
        detail: e.job.error ? `${e.job.error.code}: ${e.job.error.message}` : undefined,
      },
    ]);
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
            · agent <strong>{j.agent.name}</strong>
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
          <JobTimeline job={j} observed={observed} />
          <JobSpec job={j} />
        </div>
      </div>
    </article>
  );
}
