import type { Agent } from '@offload/client/browser';
import { useSession } from '../hooks/use-session';
import { megabytes, num } from '../lib/format';
import { jobPath } from '../lib/router';
import { ActionButton } from './ActionButton';
import { Link } from './Link';
import { Meter } from './Meter';
import { RelTime } from './RelTime';
import { StateBadge } from './StateBadge';

/** One machine: state, placement (tier, pools), capabilities, resources in use, running jobs, actions. */
export function AgentCard({
  agent,
  onChange,
  jobNames,
}: {
  agent: Agent;
  onChange: (a: Agent) => void;
  /** Names of running jobs by id, when known. */
  jobNames?: ReadonlyMap<string, string> | undefined;
}) {
  const { client, can } = useSession();
  const { resources: total, free } = agent;
  const cpuUsed = Math.max(0, total.cpu - free.cpu);
  const memUsed = Math.max(0, total.memoryMb - free.memoryMb);
  const freeGpus = new Set(free.gpus);
  const caps = agent.capabilities.filter((c) => !c.startsWith('os:') && !c.startsWith('arch:'));
  return (
    <article
      className={`card agent-card agent-${agent.state}`}
      aria-labelledby={`agent-${agent.id}`}
      data-agent={agent.name}
    >
      <header className="agent-head">
        <div>
          <h2 id={`agent-${agent.id}`}>{agent.name}</h2>
          <div className="muted small">
            {[agent.os, agent.arch, agent.version && `v${agent.version}`]
              .filter(Boolean)
              .join(' · ')}
            {agent.hostname && agent.hostname !== agent.name ? ` · ${agent.hostname}` : ''}
          </div>
        </div>
        <StateBadge state={agent.state} />
      </header>
      <dl className="kv compact">
        <div>
          <dt>Tier</dt>
          <dd>{agent.tier}</dd>
        </div>
        <div>
          <dt>Pools</dt>
          <dd>{agent.pools.length ? agent.pools.join(', ') : '—'}</dd>
        </div>
        <div>
          <dt>Last seen</dt>
          <dd>
            <RelTime at={agent.lastSeenAt} />
          </dd>
        </div>
        <div>
          <dt>Max jobs</dt>
          <dd>{agent.maxJobs}</dd>
        </div>
      </dl>
      <div className="meters">
        <Meter
          label="CPU"
          used={cpuUsed}
          total={total.cpu}
          text={`${num(cpuUsed)} / ${num(total.cpu)}`}
        />
        <Meter
          label="Memory"
          used={memUsed}
          total={total.memoryMb}
          text={`${megabytes(memUsed)} / ${megabytes(total.memoryMb)}`}
        />
        {total.gpus.map((g) => (
          <Meter
            key={g.index}
            label={`GPU ${g.index} · ${g.model}`}
            used={freeGpus.has(g.index) ? 0 : 1}
            total={1}
            neutral
            text={`${freeGpus.has(g.index) ? 'free' : 'in use'} · ${megabytes(g.memoryMb)}`}
          />
        ))}
        {total.gpus.length === 0 && <p className="muted small">No GPUs</p>}
      </div>
      {caps.length > 0 && (
        <ul className="tags" aria-label="Capabilities">
          {caps.map((c) => (
            <li key={c} className="tag">
              {c}
            </li>
          ))}
        </ul>
      )}
      <div className="agent-jobs">
        <strong className="small">Running ({agent.runningJobs.length})</strong>
        {agent.runningJobs.length === 0 ? (
          <span className="muted small"> idle</span>
        ) : (
          <ul className="inline-list">
            {agent.runningJobs.slice(0, 8).map((id) => (
              <li key={id}>
                <Link href={jobPath(id)} className="small" title={id}>
                  {jobNames?.get(id) ?? id}
                </Link>
              </li>
            ))}
            {agent.runningJobs.length > 8 && (
              <li className="muted small">+{agent.runningJobs.length - 8} more</li>
            )}
          </ul>
        )}
      </div>
      {can.admin && agent.state !== 'revoked' && (
        <footer className="card-actions">
          {agent.state === 'draining' ? (
            <ActionButton
              label={`Resume ${agent.name}`}
              action={() => client.agents.resume(agent.id).then(onChange)}
            >
              Resume
            </ActionButton>
          ) : (
            <ActionButton
              label={`Drain ${agent.name}`}
              action={() => client.agents.drain(agent.id).then(onChange)}
            >
              Drain
            </ActionButton>
          )}
          <ActionButton
            variant="danger"
            label={`Revoke ${agent.name}`}
            confirm={`Revoke ${agent.name}? Its jobs are retried elsewhere.`}
            action={() => client.agents.revoke(agent.id).then(onChange)}
          >
            Revoke
          </ActionButton>
        </footer>
      )}
    </article>
  );
}
