import {
  agentLost,
  loseAttempt,
  revokeAgent,
  type AgentRecord,
  type JobRecord,
} from '@offload/core';
import { ApiError } from '@offload/protocol';
import { AGENT_COLUMNS, agentParams, rowToAgent, type AgentRow } from '../shared/agent-rows.js';
import type { Store } from '../store.js';
import type { SqliteContext, TxWriter } from './sqlite-context.js';
import { RUNNING_ON_AGENT_SQL } from './sqlite-jobs.js';

export const REAP_AGENTS_SQL = `SELECT ${AGENT_COLUMNS} FROM agents INDEXED BY agents_reap WHERE state IN ('online', 'draining') AND last_seen_at < ?`;
export const LEASES_TO_CANCEL_SQL =
  "SELECT lease_id FROM jobs INDEXED BY jobs_running_agent WHERE agent_id = ? AND state = 'running' AND cancel_requested = 1";

type AgentMethods = Pick<
  Store,
  | 'agentUpsert'
  | 'agentGet'
  | 'agentGetByName'
  | 'agentsList'
  | 'agentUpdate'
  | 'agentsReap'
  | 'agentRevoke'
  | 'leasesToCancel'
>;

export function createSqliteAgents(ctx: SqliteContext): AgentMethods {
  const get = (id: string): AgentRecord | null => {
    const row = ctx.stmt(`SELECT ${AGENT_COLUMNS} FROM agents WHERE id = ?`).get(id) as
      AgentRow | undefined;
    return row === undefined ? null : rowToAgent(row);
  };
  const setState = (id: string, state: AgentRecord['state']): void => {
    ctx.stmt('UPDATE agents SET state = ? WHERE id = ?').run(state, id);
  };
  /** Every running attempt of the agent is lost (retried after backoff, or AGENT_LOST). */
  const loseRunning = (w: TxWriter, agentId: string, now: number, message: string): JobRecord[] =>
    ctx
      .loadAll(RUNNING_ON_AGENT_SQL, agentId)
      .map((s) => w.endAttempt(s, loseAttempt(s.job, now, message), now));

  return {
    async agentUpsert({ agent }) {
      return ctx.tx(() => {
        if (agent.state !== 'revoked') {
          const clash = ctx
            .stmt("SELECT id FROM agents WHERE name = ? AND state != 'revoked' AND id != ?")
            .get(agent.name, agent.id);
          if (clash !== undefined) {
            throw new ApiError(
              'AGENT_NAME_TAKEN',
              `another agent is already named "${agent.name}": choose another --name, or revoke the old agent first`,
              { details: { name: agent.name } },
            );
          }
        }
        // created_at is kept from the first registration.
        ctx
          .stmt(
            `INSERT INTO agents (${AGENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET ` +
              'name = excluded.name, state = excluded.state, capabilities = excluded.capabilities, tier = excluded.tier, ' +
              'pools = excluded.pools, max_jobs = excluded.max_jobs, resources = excluded.resources, hostname = excluded.hostname, ' +
              'os = excluded.os, arch = excluded.arch, version = excluded.version, last_seen_at = excluded.last_seen_at',
          )
          .run(...agentParams(agent));
        const stored = get(agent.id);
        if (stored === null) throw new Error(`agent ${agent.id} vanished while being written`);
        return stored;
      });
    },

    async agentGet({ id }) {
      return get(id);
    },

    async agentGetByName({ name }) {
      // The live agent of that name if any, else the most recent revoked one.
      const row = ctx
        .stmt(
          `SELECT ${AGENT_COLUMNS} FROM agents WHERE name = ? ORDER BY state = 'revoked', created_at DESC LIMIT 1`,
        )
        .get(name) as AgentRow | undefined;
      return row === undefined ? null : rowToAgent(row);
    },

    async agentsList({ includeRevoked }) {
      const sql =
        includeRevoked === true
          ? `SELECT ${AGENT_COLUMNS} FROM agents ORDER BY name, created_at`
          : `SELECT ${AGENT_COLUMNS} FROM agents WHERE state != 'revoked' ORDER BY name`;
      return (ctx.stmt(sql).all() as AgentRow[]).map(rowToAgent);
    },

    async agentUpdate({ id, state, lastSeenAt }) {
      if (state !== undefined) ctx.stmt('UPDATE agents SET state = ? WHERE id = ?').run(state, id);
      if (lastSeenAt !== undefined)
        ctx.stmt('UPDATE agents SET last_seen_at = ? WHERE id = ?').run(lastSeenAt, id);
      return get(id);
    },

    async agentsReap({ seenBefore, now }) {
      return ctx.tx((w) => {
        const agents: AgentRecord[] = [];
        const jobs: JobRecord[] = [];
        for (const row of ctx.stmt(REAP_AGENTS_SQL).all(seenBefore) as AgentRow[]) {
          const agent = rowToAgent(row);
          agent.state = agentLost(agent);
          setState(agent.id, agent.state);
          agents.push(agent);
          jobs.push(...loseRunning(w, agent.id, now, 'the agent stopped heartbeating'));
        }
        return { agents, jobs };
      });
    },

    async agentRevoke({ id, now }) {
      return ctx.tx((w) => {
        const agent = get(id);
        if (agent === null)
          throw new ApiError('AGENT_NOT_FOUND', `no agent ${id}`, { details: { agentId: id } });
        agent.state = revokeAgent(agent);
        setState(id, agent.state);
        return { agent, jobs: loseRunning(w, id, now, 'the agent was revoked') };
      });
    },

    async leasesToCancel({ agentId }) {
      return (ctx.stmt(LEASES_TO_CANCEL_SQL).all(agentId) as Array<{ lease_id: string }>).map(
        (r) => r.lease_id,
      );
    },
  };
}
