import { Type } from 'typebox';
import { agentSeen, type AgentRecord } from '@offload/core';
import {
  AgentRegisterSchema,
  AgentRegisteredSchema,
  ApiError,
  CompletionSchema,
  ErrorBodySchema,
  HeartbeatRequestSchema,
  HeartbeatResponseSchema,
  IdParams,
  JobSchema,
  LogReportResponseSchema,
  LogReportSchema,
  SyncRequestSchema,
  SyncResponseSchema,
} from '@offload/protocol';
import { credentialRecord, type ClaimedAttempt } from '@offload/store';
import { principalOf } from '../plugins/auth-hook.js';
import { hashSecret, newId, newSecret } from '../services/secrets.js';
import { jobView } from '../services/views.js';
import { agentWithRunning } from './agents-routes.js';
import { errorResponses, type App, type Services } from './route-context.js';

const errors = errorResponses(400, 401, 403, 404, 409);

/**
 * The agent side of the API (docs/reference/agent-protocol.md): register, sync (claim long
 * poll + completions), heartbeat, logs/progress, and a single fenced completion.
 */
export function agentProtocolRoutes(app: App, s: Services): void {
  const heartbeatIntervalMs = Math.max(250, Math.floor(s.config.leaseTimeoutMs / 3));

  /** The calling agent, refused if it was revoked since its credential was cached. */
  const liveAgent = async (agentId: string): Promise<AgentRecord> => {
    const agent = await s.dispatcher.agent(agentId);
    if (!agent || agent.state === 'revoked')
      throw new ApiError(
        'UNAUTHORIZED',
        'this agent was revoked; register it again with a join token',
      );
    return agent;
  };

  /** Records that the agent is alive (at most one write a second) and brings an offline agent back. */
  const seen = async (
    agent: AgentRecord,
    wantsDrain = false,
    force = false,
  ): Promise<AgentRecord> => {
    const now = s.clock.now();
    const state = agentSeen(agent, wantsDrain);
    if (state === agent.state && !force && !s.dispatcher.shouldRecordSeen(agent.id, now))
      return agent;
    // The state is written only when it changes: `agent` may have been read before an
    // operator's drain committed, and writing its old state back would undo the drain.
    const updated =
      (await s.store.agentUpdate({
        id: agent.id,
        lastSeenAt: now,
        ...(state !== agent.state && { state }),
      })) ?? agent;
    if (state !== agent.state) {
      s.dispatcher.agentChanged(updated);
      s.hub.agent(state === 'draining' ? 'agent.draining' : 'agent.online', updated);
    }
    return updated;
  };

  app.post('/api/v1/agent/register', {
    config: { auth: { join: true } },
    schema: {
      tags: ['agent protocol'],
      summary: 'Register an agent (join token) or update its registration (its own credential)',
      description:
        'With a join token: creates the agent and returns its credential `secret` once (201). With the agent credential: updates what the agent advertises after a restart (200). A name used by another live agent: 409 AGENT_NAME_TAKEN.',
      body: AgentRegisterSchema,
      response: { 200: AgentRegisteredSchema, 201: AgentRegisteredSchema, ...errors },
    },
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body;
      const now = s.clock.now();
      const info = {
        name: body.name,
        capabilities: [...body.capabilities].sort(),
        tier: body.tier ?? 0,
        pools: body.pools ?? [],
        maxJobs: body.maxJobs,
        resources: body.resources,
        hostname: body.hostname ?? null,
        os: body.os ?? null,
        arch: body.arch ?? null,
        version: body.version ?? null,
        lastSeenAt: now,
      };
      if (principal.kind === 'agent') {
        const existing = await liveAgent(principal.agentId);
        // A restart is the agent saying it is ready for work again.
        const agent = await s.store.agentUpsert({
          agent: { ...existing, ...info, state: 'online' },
        });
        s.dispatcher.agentChanged(agent);
        s.hub.agent('agent.online', agent);
        return reply.status(200).send({
          agent: await agentWithRunning(s, agent),
          leaseTimeoutMs: s.config.leaseTimeoutMs,
          heartbeatIntervalMs,
        });
      }
      if (principal.kind !== 'join-token')
        throw new ApiError('FORBIDDEN', 'registering needs a join token');
      const taken = await s.store.agentGetByName({ name: body.name });
      if (taken && taken.state !== 'revoked') {
        throw new ApiError(
          'AGENT_NAME_TAKEN',
          `agent name "${body.name}" is taken by agent ${taken.id}; choose another --name, or revoke the old agent (offload agents, DELETE /api/v1/agents/${taken.id})`,
        );
      }
      const token = principal.credential;
      if (token.singleUse) {
        if (!(await s.store.credentialConsume({ id: token.id, now })))
          throw new ApiError(
            'UNAUTHORIZED',
            `single-use join token "${token.name}" was already used`,
          );
        s.auth.forget(token.id);
      }
      const agent = await s.store.agentUpsert({
        agent: { id: newId('agt_'), state: 'online', createdAt: now, ...info },
      });
      const secret = newSecret('agent');
      await s.store.credentialCreate({
        credential: credentialRecord({
          id: newId('cred_'),
          kind: 'agent',
          name: `agent ${agent.name}`,
          hash: hashSecret(secret),
          agentId: agent.id,
          createdAt: now,
        }),
      });
      s.dispatcher.agentChanged(agent);
      s.hub.agent('agent.online', agent);
      return reply.status(201).send({
        agent: await agentWithRunning(s, agent),
        secret,
        leaseTimeoutMs: s.config.leaseTimeoutMs,
        heartbeatIntervalMs,
      });
    },
  });

  app.post('/api/v1/agent/sync', {
    config: { auth: { agent: true } },
    bodyLimit: s.config.batchBodyLimitBytes,
    schema: {
      tags: ['agent protocol'],
      summary: 'Hand in finished attempts and wait for work (long poll)',
      description:
        'Applies `completions` (each fenced by its lease; see `acks`), then waits up to `waitMs` for up to `max` jobs that fit the agent. Returns early when work arrives, when one of its jobs is canceled (`cancel`), or when it is asked to drain.',
      body: SyncRequestSchema,
      response: { 200: SyncResponseSchema, ...errors, 413: ErrorBodySchema },
    },
    handler: async (request, reply) => {
      const principal = principalOf(request);
      if (principal.kind !== 'agent') throw new ApiError('FORBIDDEN', 'agents only');
      let agent = await seen(await liveAgent(principal.agentId));
      const body = request.body;
      const acks = body.completions?.length ? await s.jobs.complete(agent, body.completions) : [];
      // Marked before the read: a cancel requested after it pokes, and the claim below then
      // returns at once to deliver it, even when the poke came before the claim began.
      const pokedSince = s.dispatcher.pokeMark(agent.id);
      let cancel = await s.store.leasesToCancel({ agentId: agent.id });
      let claimed: ClaimedAttempt[] = [];
      // A draining agent parks too (it is handed nothing) so that a resume releases it at once.
      const parks = agent.state === 'online' || agent.state === 'draining';
      if (cancel.length === 0 && parks && body.max > 0) {
        const waitMs = Math.min(
          body.waitMs,
          s.config.maxClaimWaitMs,
          Math.floor(s.config.leaseTimeoutMs / 2),
        );
        // A connection that closes before the answer is written: the agent is gone (restarted,
        // cut off). Stop waiting, and claim nothing for it.
        const gone = new AbortController();
        const hungUp = () => {
          if (!reply.raw.writableFinished) gone.abort();
        };
        reply.raw.once('close', hungUp);
        const result = await s.dispatcher
          .claim(agent, body.max, waitMs, gone.signal, pokedSince)
          .finally(() => reply.raw.off('close', hungUp));
        claimed = result.jobs;
        if (result.reason === 'poke') {
          agent = (await s.dispatcher.agent(agent.id)) ?? agent;
          cancel = await s.store.leasesToCancel({ agentId: agent.id });
        }
      }
      if (claimed.length > 0) s.jobs.started(claimed.map((c) => c.job));
      // Built by hand so the stored payload text goes out as is (no parse/stringify: −17 % server CPU at 500 jobs per claim).
      const jobsJson = claimed.map(claimedJobJson).join(',');
      const acksJson = acks
        .map((a) =>
          a.ok
            ? `{"jobId":${quote(a.jobId)},"ok":true}`
            : `{"jobId":${quote(a.jobId)},"ok":false,"code":"LEASE_STALE"}`,
        )
        .join(',');
      return reply
        .type('application/json; charset=utf-8')
        .send(
          `{"jobs":[${jobsJson}],"acks":[${acksJson}],"cancel":${JSON.stringify(cancel)},"drain":${agent.state === 'draining'}}` as never,
        );
    },
  });

  app.post('/api/v1/agent/heartbeat', {
    config: { auth: { agent: true } },
    schema: {
      tags: ['agent protocol'],
      summary: "Renew the agent's leases",
      description:
        "Keeps the agent and its leases alive. `leases` must list every lease the agent holds (running, or finished and not yet acknowledged): an attempt running on the agent by the server's books that is not listed, claimed more than a lease timeout ago, is handed back (its claim never reached the agent). `stale`: leases that are no longer current — kill those process trees and report nothing. `cancel`: leases whose jobs were canceled. `drain`: stop taking work.",
      body: HeartbeatRequestSchema,
      response: { 200: HeartbeatResponseSchema, ...errors },
    },
    handler: async (request) => {
      const principal = principalOf(request);
      if (principal.kind !== 'agent') throw new ApiError('FORBIDDEN', 'agents only');
      const agent = await seen(
        await liveAgent(principal.agentId),
        request.body.draining ?? false,
        true,
      );
      const running = await s.store.jobsRunningOnAgent({ agentId: agent.id });
      const current = new Set(running.map((j) => j.leaseId));
      const held = new Set(request.body.leases);
      // Attempts this agent runs by the server's books but does not hold: a claim whose answer
      // never reached it (a cut connection, or an agent killed before it recorded the job).
      // Only claims older than a lease timeout, so none still on its way; handed back without
      // burning the attempt, since an agent records a job before it starts its process.
      const now = s.clock.now();
      const unheld = running.filter(
        (j) =>
          j.leaseId !== null &&
          !held.has(j.leaseId) &&
          j.startedAt !== null &&
          now - j.startedAt > s.config.leaseTimeoutMs,
      );
      if (unheld.length > 0) {
        request.log.warn(
          { agent: agent.name, jobs: unheld.map((j) => j.id) },
          'handing back claims the agent does not hold',
        );
        await s.jobs.complete(
          agent,
          unheld.map((j) => ({ jobId: j.id, leaseId: j.leaseId!, outcome: 'handback' as const })),
        );
      }
      return {
        stale: request.body.leases.filter((l) => !current.has(l)),
        cancel: running
          .filter((j) => j.cancelRequested && j.leaseId !== null)
          .map((j) => j.leaseId!),
        drain: agent.state === 'draining',
        leaseTimeoutMs: s.config.leaseTimeoutMs,
      };
    },
  });

  app.post('/api/v1/agent/logs', {
    config: { auth: { agent: true } },
    bodyLimit: s.config.batchBodyLimitBytes,
    schema: {
      tags: ['agent protocol'],
      summary: 'Report output chunks and progress, batched across jobs',
      body: LogReportSchema,
      response: { 200: LogReportResponseSchema, ...errors, 413: ErrorBodySchema },
    },
    handler: async (request) => {
      const principal = principalOf(request);
      if (principal.kind !== 'agent') throw new ApiError('FORBIDDEN', 'agents only');
      const agent = await liveAgent(principal.agentId);
      const progress = (request.body.progress ?? []).map(({ jobId, leaseId, ...p }) => ({
        jobId,
        leaseId,
        ...p,
      }));
      return { stale: await s.jobs.report(agent, request.body.logs ?? [], progress) };
    },
  });

  app.post('/api/v1/agent/jobs/:id/complete', {
    config: { auth: { agent: true } },
    schema: {
      tags: ['agent protocol'],
      summary: 'Report the outcome of one attempt',
      description:
        '409 LEASE_STALE when the lease is no longer current: nothing changed, and the agent must drop the attempt.',
      params: IdParams,
      // Omit does not carry additionalProperties over: unknown fields (jobId among them) must still be refused.
      body: Type.Omit(CompletionSchema, ['jobId'], { additionalProperties: false }),
      response: { 200: JobSchema, ...errors },
    },
    handler: async (request) => {
      const principal = principalOf(request);
      if (principal.kind !== 'agent') throw new ApiError('FORBIDDEN', 'agents only');
      const agent = await liveAgent(principal.agentId);
      const [result] = await s.jobs.complete(agent, [
        { ...request.body, jobId: request.params.id },
      ]);
      if (!result?.ok || !result.job) {
        throw new ApiError(
          'LEASE_STALE',
          `lease ${request.body.leaseId} is not the current lease of job ${request.params.id}; drop this attempt`,
          {
            details: { jobId: request.params.id, leaseId: request.body.leaseId },
          },
        );
      }
      return jobView(result.job);
    },
  });
}

function claimedJobJson(c: ClaimedAttempt): string {
  const j = c.job;
  return `{"id":${quote(j.id)},"leaseId":${j.leaseId === null ? null : quote(j.leaseId)},"attempt":${j.attempt},"name":${quote(j.name)},"queue":${quote(j.queue)},"timeoutSec":${j.timeoutSec},"cpu":${j.requires.cpu},"memoryMb":${j.requires.memoryMb},"gpus":${j.gpus.length === 0 ? '[]' : JSON.stringify(j.gpus)},"payload":${c.payloadJson}}`;
}

/** Characters that never need escaping in JSON: ids, lease ids, queue and most job names. */
const PLAIN = /^[\w.:@ -]*$/;

/**
 * A string as JSON, skipping JSON.stringify when nothing needs escaping: a claimed job's
 * four strings cost ~570–680 ns a job through JSON.stringify and ~400 ns this way (500-job
 * claims, micro-benchmark).
 */
function quote(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}
