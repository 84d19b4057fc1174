import type { Queue } from '@offload/client/browser';
import { ActionButton } from '../components/ActionButton';
import { Link } from '../components/Link';
import { PageHeader } from '../components/PageHeader';
import { StateBadge } from '../components/StateBadge';
import { Empty, ErrorBox, Loading } from '../components/Status';
import { useAsync, useThrottled } from '../hooks/use-async';
import { useJobEvents, useResync } from '../hooks/use-live';
import { useSession } from '../hooks/use-session';
import { JOB_STATES } from '../lib/job-states';

export function QueuesPage() {
  const { client, can } = useSession();
  const queues = useAsync(() => client.queues.list(), [client]);
  useResync(queues.reload);
  // Depths change with every job event; reload at most once a second while they come.
  const refresh = useThrottled(queues.reload, 1_000);
  useJobEvents((e) => {
    if (e.type !== 'job.progress') refresh();
  });
  const replace = (q: Queue) =>
    queues.setData((list) => list.map((x) => (x.name === q.name ? q : x)));
  const list = [...(queues.data ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <section aria-labelledby="page-title">
      <PageHeader title={<span id="page-title">Queues</span>} />
      {queues.status === 'loading' && <Loading what="queues" />}
      {queues.status === 'error' && <ErrorBox error={queues.error} onRetry={queues.reload} />}
      {queues.data && list.length === 0 && (
        <Empty>No queues yet: a queue appears with its first job.</Empty>
      )}
      {list.length > 0 && (
        <div className="table-wrap">
          <table className="table queues-table">
            <thead>
              <tr>
                <th>Queue</th>
                <th>Status</th>
                {JOB_STATES.map((s) => (
                  <th
                    key={s}
                    className={`num ${s === 'queued' || s === 'running' ? '' : 'hide-sm'}`}
                  >
                    {s}
                  </th>
                ))}
                {can.admin && (
                  <th>
                    <span className="sr-only">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {list.map((q) => (
                <tr key={q.name} data-queue={q.name}>
                  <th scope="row">
                    <Link href={`/jobs?queue=${encodeURIComponent(q.name)}`}>{q.name}</Link>
                  </th>
                  <td>
                    {q.paused ? <StateBadge state="paused" /> : <StateBadge state="active" />}
                  </td>
                  {JOB_STATES.map((s) => (
                    <td
                      key={s}
                      className={`num ${s === 'queued' || s === 'running' ? '' : 'hide-sm'}`}
                    >
                      {q.counts[s] ? (
                        <Link href={`/jobs?queue=${encodeURIComponent(q.name)}&state=${s}`}>
                          {q.counts[s].toLocaleString()}
                        </Link>
                      ) : (
                        <span className="muted">0</span>
                      )}
                    </td>
                  ))}
                  {can.admin && (
                    <td className="actions">
                      {q.paused ? (
                        <ActionButton
                          label={`Resume queue ${q.name}`}
                          action={() => client.queues.resume(q.name).then(replace)}
                        >
                          Resume
                        </ActionButton>
                      ) : (
                        <ActionButton
                          label={`Pause queue ${q.name}`}
                          action={() => client.queues.pause(q.name).then(replace)}
                        >
                          Pause
                        </ActionButton>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
