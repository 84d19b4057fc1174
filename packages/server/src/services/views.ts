import { freeResources, type AgentRecord, type JobRecord } from '@offload/core';
import type { Agent, Job } from '@offload/protocol';
import type { CredentialRecord } from '@offload/store';
import type { Key } from '@offload/protocol';

const iso = (ms: number) => new Date(ms).toISOString();

/** A stored job as the API shows it: ISO times, absent (not null) optional fields. */
export function jobView(j: JobRecord): Job {
  const v: Job = {
    id: j.id,
    name: j.name,
    kind: j.kind,
    queue: j.queue,
    requires: j.requires,
    priority: j.priority,
    timeoutSec: j.timeoutSec,
    maxAttempts: j.maxAttempts,
    backoff: j.backoff,
    tags: j.tags,
    state: j.state,
    attempt: j.attempt,
    createdAt: iso(j.createdAt),
  };
  const p = j.payload;
  if (p.command !== undefined) v.command = p.command;
  if (p.task !== undefined) v.task = p.task;
  if (p.input !== undefined) v.input = p.input;
  if (p.env !== undefined) v.env = p.env;
  if (p.cwd !== undefined) v.cwd = p.cwd;
  if (p.nice !== undefined) v.nice = p.nice;
  if (j.targetAgent !== null) v.targetAgent = j.targetAgent;
  if (j.pool !== null) v.pool = j.pool;
  if (j.expireAt !== null) v.expireAt = iso(j.expireAt);
  if (j.idempotencyKey !== null) v.idempotencyKey = j.idempotencyKey;
  if (j.runAt !== null) v.runAt = iso(j.runAt);
  if (j.exitCode !== null) v.exitCode = j.exitCode;
  if (j.signal !== null) v.signal = j.signal;
  if (j.result !== undefined) v.result = j.result;
  if (j.error !== null) v.error = j.error;
  if (j.progress !== null) v.progress = j.progress;
  if (j.usage !== null) v.usage = j.usage;
  if (j.agentId !== null) v.agent = { id: j.agentId, name: j.agentName ?? '' };
  if (j.cancelRequested && j.state === 'running') v.cancelRequested = true;
  if (j.queuedAt !== null) v.queuedAt = iso(j.queuedAt);
  if (j.startedAt !== null) v.startedAt = iso(j.startedAt);
  if (j.finishedAt !== null) v.finishedAt = iso(j.finishedAt);
  return v;
}

/** An agent with what its running attempts hold subtracted. */
export function agentView(a: AgentRecord, running: readonly JobRecord[]): Agent {
  const free = freeResources(
    a,
    running.map((j) => ({ cpu: j.requires.cpu, memoryMb: j.requires.memoryMb, gpus: j.gpus })),
  );
  const v: Agent = {
    id: a.id,
    name: a.name,
    state: a.state,
    capabilities: a.capabilities,
    tier: a.tier,
    pools: a.pools,
    maxJobs: a.maxJobs,
    resources: a.resources,
    free: { cpu: round(free.cpu), memoryMb: free.memoryMb, gpus: free.gpus },
    runningJobs: running.map((j) => j.id),
    lastSeenAt: iso(a.lastSeenAt),
    createdAt: iso(a.createdAt),
  };
  if (a.hostname !== null) v.hostname = a.hostname;
  if (a.os !== null) v.os = a.os;
  if (a.arch !== null) v.arch = a.arch;
  if (a.version !== null) v.version = a.version;
  return v;
}

/** A key or join token as listed: never its secret or hash. */
export function keyView(c: CredentialRecord): Key {
  const v: Key = {
    id: c.id,
    kind: c.kind === 'join-token' ? 'join-token' : 'api-key',
    name: c.name,
    createdAt: iso(c.createdAt),
  };
  if (c.kind === 'api-key') v.scopes = c.scopes;
  if (c.queues !== null) v.queues = c.queues;
  if (c.capabilities !== null) v.capabilities = c.capabilities;
  if (c.kind === 'join-token') v.singleUse = c.singleUse;
  if (c.expiresAt !== null) v.expiresAt = iso(c.expiresAt);
  if (c.lastUsedAt !== null) v.lastUsedAt = iso(c.lastUsedAt);
  if (c.revokedAt !== null) v.revokedAt = iso(c.revokedAt);
  return v;
}

// Fractional CPU reservations leave float dust (1 - 0.1 - 0.2 ...).
function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
