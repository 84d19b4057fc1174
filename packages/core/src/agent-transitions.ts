import { ApiError, type AgentState } from '@offload/protocol';
import type { AgentRecord } from './records.js';

/**
 * The agent state machine. online ⇄ draining by command; online/draining → offline when
 * heartbeats stop; offline → online (or back to draining) when it returns; any → revoked,
 * which is final.
 */
export const AGENT_TRANSITIONS: Readonly<Record<AgentState, readonly AgentState[]>> = {
  online: ['draining', 'offline', 'revoked'],
  draining: ['online', 'offline', 'revoked'],
  offline: ['online', 'draining', 'revoked'],
  revoked: [],
};

function refuse(agent: AgentRecord, action: string): never {
  throw new ApiError('INVALID_STATE', `agent ${agent.name} is ${agent.state}; cannot ${action}`, {
    details: { agentId: agent.id, state: agent.state },
  });
}

/** Admin drain: finish what runs, take nothing new. Idempotent. */
export function drainAgent(agent: AgentRecord): AgentState {
  if (agent.state === 'revoked') refuse(agent, 'drain');
  return 'draining';
}

/** Admin resume after a drain. Idempotent for an online agent; an offline one stays offline until it returns. */
export function resumeAgent(agent: AgentRecord): AgentState {
  if (agent.state === 'revoked') refuse(agent, 'resume');
  return agent.state === 'offline' ? 'offline' : 'online';
}

/**
 * A heartbeat or sync from the agent: it is alive. An offline agent comes back online; a
 * draining one stays draining (only resume clears a drain); `wantsDrain` is the agent's own
 * graceful stop.
 */
export function agentSeen(agent: AgentRecord, wantsDrain = false): AgentState {
  if (agent.state === 'revoked') refuse(agent, 'report');
  if (wantsDrain || agent.state === 'draining') return 'draining';
  return 'online';
}

/** Missed heartbeats past the lease timeout. */
export function agentLost(agent: AgentRecord): AgentState {
  if (agent.state === 'revoked' || agent.state === 'offline') refuse(agent, 'go offline');
  return 'offline';
}

export function revokeAgent(agent: AgentRecord): AgentState {
  if (agent.state === 'revoked') refuse(agent, 'revoke');
  return 'revoked';
}
