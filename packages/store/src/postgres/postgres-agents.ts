import {
  agentLost,
  loseAttempt,
  revokeAgent,
  type AgentRecord,
  type JobRecord,
} from '@offload/core';
import { ApiError } from '@offload/protocol';
import { AGENT_COLUMNS, agentParams, rowToAgent, type AgentRow } from '../shared/agent-rows.js';
import { JOB_COLUMNS } from '../shared/job-rows.js';
import type { Store } from '../store.js';
import { PgEndedAttempts } from './postgres-attempt-rows.js';
import { ChangeSet } from './postgres-changes.js';
import { sqlState, type PgContext, type PgTx } from './postgres-context.js';

/** created_at is kept from the first registration. */
const UPSERT_SQL =
  `INSERT INTO agents (${AGENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (id) DO UPDATE SET ` +
  'name = excluded.name, state = excluded.state, capabilities = excluded.capabilities, tier = excluded.tier, ' +
  'pools = excluded.pools, max_jobs = excluded.max_jobs, resources = excluded.resources, hostname = excluded.hostname, ' +
  `os = excluded.os, arch = excluded.arch, version = excluded.version, last_seen_at = excluded.last_seen_at RETURNING ${AGENT_COLUMNS}`;

/** Stale agents, longest silent first, locked; SKIP LOCKED so that two servers reaping at once split them. */
export const REAP_AGENTS_SQL = `SELECT ${AGENT_COLUMNS} FROM agents WHERE state IN ('online', 'draining') AND last_seen_at < $1 ORDER BY last_seen_at FOR UPDATE SKIP LOCKED`;
/** The running attempts of some agents, locked in seq order (the order every job writer locks in). */
export const RUNNING_ON_AGENTS_SQL = `SELECT ${JOB_COLUMNS} FROM jobs WHERE agent_id = ANY($1::text[]) AND state = 'running' ORDER BY seq FOR UPDATE`;
export const LEASES_TO_CANCEL_SQL =
  "SELECT lease_id FROM jobs WHERE agent_id = $1 AND state = 'running' AND cancel_requested = 1";
const SET_STATES_SQL =
  'UPDATE agents AS a SET state = u.state FROM unnest($1::text[], $2::text[]) AS u(id, state) WHERE a.id = u.id';

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

/** Every running attempt of these agents is lost (retried after backoff, or AGENT_LOST); in the agents' order, then seq. */
async function loseRunning(
  t: PgTx,
  agentIds: string[],
  now: number,
  message: string,
): Promise<JobRecord[]> {
  if (agentIds.length === 0) return [];
  const running = await t.jobs(RUNNING_ON_AGENTS_SQL, [agentIds]);
  const order = new Map(agentIds.map((id, i) => [id, i]));
  running.sort((a, b) => order.get(a.job.agentId!)! - order.get(b.job.agentId!)! || a.seq - b.seq);
  const ended = new PgEndedAttempts(t, now);
  const jobs = running.map((s) => ended.transition(s, loseAttempt(s.job, now, message)));
  await ended.write();
  return jobs;
}

function agentChanged(id: string): ChangeSet {
  const c = new ChangeSet();
  c.agents.add(id);
  return c;
}

export function createPgAgents(ctx: PgContext): AgentMethods {
  const one = async (sql: string, values: unknown[]): Promise<AgentRecord | null> => {
    const [row] = await ctx.rows<AgentRow>(ctx.pool, sql, values);
    return row === undefined ? null : rowToAgent(row);
  };
  const get = (id: string) => one(`SELECT ${AGENT_COLUMNS} FROM agents WHERE id = $1`, [id]);

  return {
    async agentUpsert({ agent }) {
      // The partial unique index agents_live_name is the name check: one statement, and
      // two servers registering the same name at once cannot both succeed.
      try {
        const [row] = await ctx.rows<AgentRow>(ctx.pool, UPSERT_SQL, agentParams(agent));
        if (row === undefined) throw new Error(`agent ${agent.id} vanished while being written`);
        await ctx.notifyNow(agentChanged(agent.id));
        return rowToAgent(row);
      } catch (err) {
        if (
          sqlState(err) === '23505' &&
          (err as { constraint?: string }).constraint === 'agents_live_name'
        ) {
          throw new ApiError(
            'AGENT_NAME_TAKEN',
            `another agent is already named "${agent.name}": choose another --name, or revoke the old agent first`,
            { details: { name: agent.name }, cause: err },
          );
        }
        throw err;
      }
    },

    async agentGet({ id }) {
      return get(id);
    },

    async agentGetByName({ name }) {
      // The live agent of that name if any, else the most recent revoked one.
      return one(
        `SELECT ${AGENT_COLUMNS} FROM agents WHERE name = $1 ORDER BY state = 'revoked', created_at DESC LIMIT 1`,
        [name],
      );
    },

    async agentsList({ includeRevoked }) {
      // COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
      const sql =
        includeRevoked === true
          ? `SELECT ${AGENT_COLUMNS} FROM agents ORDER BY name COLLATE "C", created_at`
          : `SELECT ${AGENT_COLUMNS} FROM agents WHERE state <> 'revoked' ORDER BY name COLLATE "C"`;
      return (await ctx.rows<AgentRow>(ctx.pool, sql)).map(rowToAgent);
    },

    async agentUpdate({ id, state, lastSeenAt }) {
      if (state === undefined && lastSeenAt === undefined) return get(id);
      const updated = await one(
        `UPDATE agents SET state = COALESCE($2, state), last_seen_at = COALESCE($3, last_seen_at) WHERE id = $1 RETURNING ${AGENT_COLUMNS}`,
        [id, state ?? null, lastSeenAt ?? null],
      );
      // A heartbeat (lastSeenAt alone) is not news; a drain or a state change is.
      if (updated !== null && state !== undefined) await ctx.notifyNow(agentChanged(id));
      return updated;
    },

    async agentsReap({ seenBefore, now }) {
      return ctx.tx(async (t) => {
        const agents = (await t.rows<AgentRow>(REAP_AGENTS_SQL, [seenBefore])).map(rowToAgent);
        if (agents.length === 0) return { agents, jobs: [] };
        for (const a of agents) {
          a.state = agentLost(a);
          t.changes.agents.add(a.id);
        }
        await t.rows(SET_STATES_SQL, [agents.map((a) => a.id), agents.map((a) => a.state)]);
        const jobs = await loseRunning(
          t,
          agents.map((a) => a.id),
          now,
          'the agent stopped heartbeating',
        );
        return { agents, jobs };
      });
    },

    async agentRevoke({ id, now }) {
      return ctx.tx(async (t) => {
        const [row] = await t.rows<AgentRow>(
          `SELECT ${AGENT_COLUMNS} FROM agents WHERE id = $1 FOR UPDATE`,
          [id],
        );
        if (row === undefined)
          throw new ApiError('AGENT_NOT_FOUND', `no agent ${id}`, { details: { agentId: id } });
        const agent = rowToAgent(row);
        agent.state = revokeAgent(agent);
        t.changes.agents.add(id);
        await t.rows(SET_STATES_SQL, [[id], [agent.state]]);
        return { agent, jobs: await loseRunning(t, [id], now, 'the agent was revoked') };
      });
    },

    async leasesToCancel({ agentId }) {
      return (await ctx.rows<{ lease_id: string }>(ctx.pool, LEASES_TO_CANCEL_SQL, [agentId])).map(
        (r) => r.lease_id,
      );
    },
  };
}
