import { useMemo } from 'react';
import type { Queue } from '@offload/client/browser';
import { LineChart } from '../components/LineChart';
import { Link } from '../components/Link';
import { PageHeader } from '../components/PageHeader';
import { StateCounts } from '../components/StateCounts';
import { ErrorBox, Loading } from '../components/Status';
import { useAsync, useThrottled } from '../hooks/use-async';
import { useAgentEvents, useJobEvents, useResync } from '../hooks/use-live';
import { useNow } from '../hooks/use-now';
import { useSession } from '../hooks/use-session';
import { duration, num } from '../lib/format';
import { alignToNow } from '../lib/history';

export function OverviewPage() {
  const { client } = useSession();
  const stats = useAsync(() => client.stats(), [client]);
  const history = useAsync(() => client.statsHistory(), [client]);
  const queues = useAsync(() => client.queues.list(), [client]);
  const now = useNow(30_000);

  // Live: every job or agent event triggers a reload of the figures it changes, at most once a
  // second (history: every 3 s) however many events arrive. No timer asks the server anything.
  const reloadStats = useThrottled(stats.reload, 1_000);
  const reloadQueues = useThrottled(queues.reload, 1_000);
  const reloadHistory = useThrottled(history.reload, 3_000);
  useJobEvents((e) => {
    if (e.type === 'job.progress') return;
    reloadStats();
    reloadQueues();
    if (e.type === 'job.started' || e.type === 'job.succeeded' || e.type === 'job.failed')
      reloadHistory();
  });
  useAgentEvents(reloadStats);
  useResync(() => {
    stats.reload();
    queues.reload();
    history.reload();
  });

  const minutes = useMemo(() => alignToNow(history.data?.minutes ?? [], now), [history.data, now]);
  const times = minutes.map((m) => m.at);
  const s = stats.data;
  return (
    <section aria-labelledby="page-title" className="overview">
      <PageHeader title={<span id="page-title">Overview</span>} />
      {stats.status === 'loading' && <Loading what="statistics" />}
      {stats.status === 'error' && <ErrorBox error={stats.error} onRetry={stats.reload} />}
      {s && (
        <>
          <StateCounts counts={s.counts} />
          <div className="kpis">
            <Kpi
              label="Finished / min"
              value={num(s.throughput.finishedPerSec * 60)}
              hint="last 5 minutes"
            />
            <Kpi
              label="Started / min"
              value={num(s.throughput.startedPerSec * 60)}
              hint="last 5 minutes"
            />
            <Kpi
              label="Queue wait p50"
              value={duration(s.queueWaitMs.p50)}
              hint={`p95 ${duration(s.queueWaitMs.p95)}`}
            />
            <Link href="/agents" className="kpi kpi-link">
              <span className="kpi-label">Agents</span>
              <span className="kpi-value">
                <span className="ok">{s.agents.online}</span> online
              </span>
              <span className="kpi-hint">
                {s.agents.draining} draining · {s.agents.offline} offline
              </span>
            </Link>
          </div>
        </>
      )}
      <div className="chart-grid">
        <div className="card">
          {history.status === 'error' && !history.data ? (
            <ErrorBox error={history.error} onRetry={history.reload} />
          ) : (
            <LineChart
              title="Throughput (jobs per minute)"
              times={times}
              format={(n) => num(n)}
              bars={[
                {
                  name: 'succeeded',
                  className: 'chart-b',
                  values: minutes.map((m) => m.succeeded),
                },
                { name: 'failed', className: 'chart-c', values: minutes.map((m) => m.failed) },
              ]}
              series={[
                { name: 'started', className: 'chart-a', values: minutes.map((m) => m.started) },
              ]}
            />
          )}
        </div>
        <div className="card">
          {history.status === 'error' && !history.data ? (
            <ErrorBox error={history.error} onRetry={history.reload} />
          ) : (
            <LineChart
              title="Queue wait (queued → started)"
              times={times}
              format={(n) => duration(n)}
              series={[
                { name: 'p50', className: 'chart-a', values: minutes.map((m) => m.queueWaitP50Ms) },
                { name: 'p95', className: 'chart-d', values: minutes.map((m) => m.queueWaitP95Ms) },
              ]}
            />
          )}
        </div>
      </div>
      <BusiestQueues queues={queues.data} error={queues.error} />
    </section>
  );
}

function Kpi({ label, value, hint }: { label: string; value: string; hint: string }) {
  return (
    <div className="kpi">
      <span className="kpi-label">{label}</span>
      <span className="kpi-value">{value}</span>
      <span className="kpi-hint">{hint}</span>
    </div>
  );
}

function BusiestQueues({ queues, error }: { queues: Queue[] | undefined; error: unknown }) {
  const busiest = [...(queues ?? [])]
    .map((q) => ({ q, load: q.counts.queued + q.counts.running + q.counts.scheduled }))
    .filter((b) => b.load > 0)
    .sort((a, b) => b.load - a.load || a.q.name.localeCompare(b.q.name))
    .slice(0, 6);
  const max = Math.max(1, ...busiest.map((b) => b.load));
  return (
    <section className="card" aria-labelledby="busiest-title">
      <div className="card-head">
        <h2 id="busiest-title">Busiest queues</h2>
        <Link href="/queues" className="small">
          All queues →
        </Link>
      </div>
      {error !== undefined && !queues && <ErrorBox error={error} />}
      {!queues && error === undefined && <Loading what="queues" />}
      {queues && busiest.length === 0 && <p className="muted">Nothing is waiting or running.</p>}
      <ul className="bars">
        {busiest.map(({ q }) => (
          <li key={q.name}>
            <Link href={`/jobs?queue=${encodeURIComponent(q.name)}`} className="bar-name">
              {q.name}
              {q.paused && <span className="badge state-paused">paused</span>}
            </Link>
            <span className="bar-track" aria-hidden="true">
              <span
                className="bar-seg running"
                style={{ width: `${(q.counts.running / max) * 100}%` }}
              />
              <span
                className="bar-seg queued"
                style={{ width: `${(q.counts.queued / max) * 100}%` }}
              />
              <span
                className="bar-seg scheduled"
                style={{ width: `${(q.counts.scheduled / max) * 100}%` }}
              />
            </span>
            <span className="bar-value small">
              {q.counts.running} running · {q.counts.queued} queued
              {q.counts.scheduled ? ` · ${q.counts.scheduled} scheduled` : ''}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
