import { Type } from 'typebox';
import { agentView } from '../services/views.js';
import { drainAgent, resumeAgent, type AgentRecord } from '@offload/core';
import { AgentListSchema, AgentSchema, ApiError, IdParams } from '@offload/protocol';
import { errorResponses, type App, type Services } from './route-context.js';

const errors = errorResponses(401, 403, 404, 409);

/** An agent by id, or by name (the CLI's `offload drain NAME`). */
async function findAgent(s: Services, idOrName: string): Promise<AgentRecord> {
  const agent =
    (await s.store.agentGet({ id: idOrName })) ??
    (await s.store.agentGetByName({ name: idOrName }));
  if (!agent) throw new ApiError('AGENT_NOT_FOUND', `no agent with id or name "${idOrName}"`);
  return agent;
}

export async function agentWithRunning(s: Services, agent: AgentRecord) {
  return agentView(agent, await s.store.jobsRunningOnAgent({ agentId: agent.id }));
}

export function agentsRoutes(app: App, s: Services): void {
  app.get('/api/v1/agents', {
    config: { auth: { scope: 'read' } },
    schema: {
      tags: ['agents'],
      summary: 'Agents with state, capabilities, resources (total and free) and running jobs',
      querystring: Type.Object(
        { includeRevoked: Type.Optional(Type.Boolean()) },
        { additionalProperties: false },
      ),
      response: { 200: AgentListSchema, ...errors },
    },
    handler: async (request) => {
      const agents = await s.store.agentsList({
        includeRevoked: request.query.includeRevoked ?? false,
      });
      return { agents: await Promise.all(agents.map((a) => agentWithRunning(s, a))) };
    },
  });

  app.get('/api/v1/agents/:id', {
    config: { auth: { scope: 'read' } },
    schema: {
      tags: ['agents'],
      summary: 'One agent, by id or name',
      params: IdParams,
      response: { 200: AgentSchema, ...errors },
    },
    handler: async (request) => agentWithRunning(s, await findAgent(s, request.params.id)),
  });

  const setState = (action: 'drain' | 'resume') => async (request: { params: { id: string } }) => {
    const agent = await findAgent(s, request.params.id);
    const state = action === 'drain' ? drainAgent(agent) : resumeAgent(agent);
    const updated = (await s.store.agentUpdate({ id: agent.id, state })) ?? agent;
    s.dispatcher.agentChanged(updated);
    s.hub.agent(
      state === 'draining'
        ? 'agent.draining'
        : state === 'online'
          ? 'agent.online'
          : 'agent.updated',
      updated,
    );
    return agentWithRunning(s, updated);
  };

  app.post('/api/v1/agents/:id/drain', {
    config: { auth: { scope: 'admin' } },
    schema: {
      tags: ['agents'],
      summary: 'Drain an agent: it finishes what it runs and takes nothing new',
      params: IdParams,
      response: { 200: AgentSchema, ...errors },
    },
    handler: setState('drain'),
  });

  app.post('/api/v1/agents/:id/resume', {
    config: { auth: { scope: 'admin' } },
    schema: {
      tags: ['agents'],
      summary: 'Resume a drained agent',
      params: IdParams,
      response: { 200: AgentSchema, ...errors },
    },
    handler: setState('resume'),
  });

  app.delete('/api/v1/agents/:id', {
    config: { auth: { scope: 'admin' } },
    schema: {
      tags: ['agents'],
      summary: 'Revoke an agent',
      description:
        'Its credential stops working at once and the jobs it runs are retried elsewhere (or fail with AGENT_LOST when no attempts are left).',
      params: IdParams,
      response: { 200: AgentSchema, ...errors },
    },
    handler: async (request) => {
      const agent = await findAgent(s, request.params.id);
      const { agent: revoked, jobs } = await s.store.agentRevoke({
        id: agent.id,
        now: s.clock.now(),
      });
      s.dispatcher.agentChanged(revoked);
      s.jobs.changed(jobs.map((j) => [j, 'running']));
      s.hub.agent('agent.revoked', revoked);
      return agentView(revoked, []);
    },
  });
}
