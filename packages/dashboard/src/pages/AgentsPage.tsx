import { useEffect } from 'react';
import type { Agent } from '@offload/client/browser';
import { AgentCard } from '../components/AgentCard';
import { PageHeader } from '../components/PageHeader';
import { Empty, ErrorBox, Loading } from '../components/Status';
import { useAsync, useThrottled } from '../hooks/use-async';
import { useAgentEvents, useJobEvents, useResync } from '../hooks/use-live';
import { useSession } from '../hooks/use-session';

export function AgentsPage() {
  const { client } = useSession();
  const agents = useAsync(() => client.agents.list(), [client]);
  // Names of the running jobs, to show on the cards (the agent lists only their ids).
  const running = useAsync(
    async () =>
      new Map(
        (await client.listPage({ state: 'running', limit: 500 })).jobs.map((j) => [j.id, j.name]),
      ),
    [client],
  );
  useResync(() => {
    agents.reload();
    running.reload();
  });
  const upsert = (a: Agent) =>
    agents.setData((list) => {
      const i = list.findIndex((x) => x.id === a.id);
      if (a.state === 'revoked') return list.filter((x) => x.id !== a.id);
      return i >= 0 ? list.with(i, a) : [...list, a];
    });
  useAgentEvents((e) => upsert(e.agent));
  // Resources in use change when jobs start and end: reload (at most once a second) on those events.
  const refresh = useThrottled(agents.reload, 1_000);
  useJobEvents((e) => {
    if (e.type === 'job.progress' || e.type === 'job.created') return;
    running.setData((m) => {
      const next = new Map(m);
      if (e.job.state === 'running') next.set(e.job.id, e.job.name);
      else next.delete(e.job.id);
      return next;
    });
    refresh();
  });

  // A link to one agent (`/agents#agent-<id>`, from a job's timeline) scrolls to its card
  // once the cards are there.
  const loaded = agents.data !== undefined;
  useEffect(() => {
    const target = decodeURIComponent(window.location.hash.slice(1));
    if (loaded && target) document.getElementById(target)?.scrollIntoView({ block: 'start' });
  }, [loaded]);

  // By name, not by state: a card does not jump away from the button just pressed.
  const list = [...(agents.data ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  const counts = { online: 0, draining: 0, offline: 0 };
  for (const a of list) if (a.state !== 'revoked') counts[a.state]++;
  return (
    <section aria-labelledby="page-title">
      <PageHeader title={<span id="page-title">Agents</span>}>
        {agents.data && (
          <span className="muted">
            {counts.online} online · {counts.draining} draining · {counts.offline} offline
          </span>
        )}
      </PageHeader>
      {agents.status === 'loading' && <Loading what="agents" />}
      {agents.status === 'error' && <ErrorBox error={agents.error} onRetry={agents.reload} />}
      {agents.data && list.length === 0 && (
        <Empty>
          No agents yet. Start one with <code>offload agent --server URL --join TOKEN</code> (make a
          join token on the Access page).
        </Empty>
      )}
      <div className="agent-grid">
        {list.map((a) => (
          <AgentCard key={a.id} agent={a} onChange={upsert} jobNames={running.data} />
        ))}
      </div>
    </section>
  );
}
