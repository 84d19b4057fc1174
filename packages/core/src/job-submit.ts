import { invalidField, type JobSubmit } from '@offload/protocol';
import { DEFAULT_BACKOFF } from './backoff.js';
import type { Backoff, JobPayload, JobRecord, Requirements } from './records.js';

export const DEFAULT_TIMEOUT_SEC = 18_000;
export const DEFAULT_QUEUE = 'default';

/**
 * Turns a validated submit body into the record to store: checks the rules a schema
 * cannot express, applies every default in one place, and picks the first state.
 * `fieldPrefix` names the job inside a batch (`/jobs/3`) in error messages.
 */
export function createJobRecord(
  spec: JobSubmit,
  ctx: { id: string; now: number; fieldPrefix?: string },
): JobRecord {
  const at = (field: string) => `${ctx.fieldPrefix ?? ''}/${field}`;
  const hasCommand = spec.command !== undefined;
  const hasTask = spec.task !== undefined;
  if (hasCommand === hasTask) {
    throw invalidField(
      at(hasCommand ? 'task' : 'command'),
      'give exactly one of `command` (a process) and `task` (a named handler)',
    );
  }
  if (!hasTask && spec.input !== undefined)
    throw invalidField(
      at('input'),
      '`input` is for task jobs; pass data to a command through `env` or its arguments',
    );
  if (spec.runAt !== undefined && spec.delaySec !== undefined)
    throw invalidField(at('delaySec'), 'give `runAt` or `delaySec`, not both');
  // Checked against the effective delay: `{maxDelaySec: 2}` alone is below the default 5 s.
  const effectiveDelaySec = spec.backoff?.delaySec ?? DEFAULT_BACKOFF.delaySec;
  if (spec.backoff?.maxDelaySec !== undefined && spec.backoff.maxDelaySec < effectiveDelaySec) {
    throw invalidField(
      at('backoff/maxDelaySec'),
      `must be at least \`delaySec\` (${effectiveDelaySec} s)`,
    );
  }

  const kind = hasTask ? 'task' : 'command';
  const payload: JobPayload = {};
  if (spec.command !== undefined) payload.command = spec.command;
  if (spec.task !== undefined) payload.task = spec.task;
  if (spec.input !== undefined) payload.input = spec.input;
  if (spec.env !== undefined) payload.env = spec.env;
  if (spec.cwd !== undefined) payload.cwd = spec.cwd;
  if (spec.nice !== undefined) payload.nice = spec.nice;

  const r = spec.requires ?? {};
  const capabilities = new Set(r.capabilities ?? []);
  if (spec.task !== undefined) capabilities.add(`task:${spec.task}`);
  const gpuMemoryMb = r.gpuMemoryMb ?? 0;
  const requires: Requirements = {
    capabilities: [...capabilities].sort(),
    cpu: r.cpu ?? (kind === 'command' ? 1 : 0),
    memoryMb: r.memoryMb ?? 0,
    // Asking for GPU memory means asking for a GPU.
    gpus: Math.max(r.gpus ?? 0, gpuMemoryMb > 0 ? 1 : 0),
    gpuMemoryMb,
  };

  const backoff: Backoff = {
    type: spec.backoff?.type ?? DEFAULT_BACKOFF.type,
    delaySec: spec.backoff?.delaySec ?? DEFAULT_BACKOFF.delaySec,
    maxDelaySec:
      spec.backoff?.maxDelaySec ??
      Math.max(DEFAULT_BACKOFF.maxDelaySec, spec.backoff?.delaySec ?? 0),
  };

  let runAt: number | null = null;
  if (spec.runAt !== undefined) {
    const t = Date.parse(spec.runAt);
    if (Number.isNaN(t)) throw invalidField(at('runAt'), 'is not an ISO 8601 time');
    runAt = t;
  } else if (spec.delaySec !== undefined && spec.delaySec > 0) {
    runAt = ctx.now + Math.round(spec.delaySec * 1000);
  }
  const scheduled = runAt !== null && runAt > ctx.now;

  return {
    id: ctx.id,
    name: spec.name ?? defaultName(spec),
    kind,
    queue: spec.queue ?? DEFAULT_QUEUE,
    payload,
    requires,
    targetAgent: spec.targetAgent ?? null,
    pool: spec.pool ?? null,
    priority: spec.priority ?? 'normal',
    timeoutSec: spec.timeoutSec ?? DEFAULT_TIMEOUT_SEC,
    maxAttempts: spec.maxAttempts ?? 1,
    backoff,
    // Expiry counts from the moment the job may first start.
    expireAt:
      spec.expireAfterSec === undefined
        ? null
        : Math.max(runAt ?? ctx.now, ctx.now) + Math.round(spec.expireAfterSec * 1000),
    idempotencyKey: spec.idempotencyKey ?? null,
    tags: spec.tags ?? {},
    state: scheduled ? 'scheduled' : 'queued',
    attempt: 1,
    runAt: scheduled ? runAt : null,
    queuedAt: scheduled ? null : ctx.now,
    leaseId: null,
    agentId: null,
    agentName: null,
    gpus: [],
    cancelRequested: false,
    exitCode: null,
    signal: null,
    result: undefined,
    error: null,
    progress: null,
    usage: null,
    createdAt: ctx.now,
    startedAt: null,
    finishedAt: null,
  };
}

function defaultName(spec: JobSubmit): string {
  if (spec.task !== undefined) return spec.task;
  const c = spec.command;
  const text = Array.isArray(c) ? c.join(' ') : (c ?? '');
  if (text.length <= 80) return text;
  // Cut on code points, not UTF-16 units, so a surrogate pair is never split.
  const points = Array.from(text);
  return points.length > 80 ? `${points.slice(0, 79).join('')}…` : text;
}
