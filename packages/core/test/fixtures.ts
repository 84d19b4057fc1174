import {
  applyPatch,
  cancelJob,
  claimJob,
  completeAttempt,
  createJobRecord,
  expireJob,
  jobClassOf,
  type AgentRecord,
  type JobClass,
  type JobRecord,
  type Requirements,
} from '@offload/core';
import { ApiError, type ApiErrorCode, type JobState, type JobSubmit } from '@offload/protocol';
import { expect } from 'vitest';

/** The fixed start of every test's time line. */
export const T0 = Date.UTC(2030, 0, 1);

let seq = 0;
export function nextId(prefix = 'job'): string {
  seq += 1;
  return `${prefix}-${seq}`;
}

export function submit(spec: JobSubmit, now = T0, fieldPrefix?: string): JobRecord {
  return createJobRecord(
    spec,
    fieldPrefix === undefined ? { id: nextId(), now } : { id: nextId(), now, fieldPrefix },
  );
}

/** Late enough that every due time set by `jobIn` (runAt, expireAt) has passed. */
export const LATE = T0 + 3_600_000;

/** An attempt's failure report (exit 1). */
export const FAILED = { outcome: 'failed', exitCode: 1 } as const;

export const CLAIM = {
  leaseId: 'lease-1',
  agentId: 'agent-1',
  agentName: 'box-1',
  gpus: [] as number[],
};

/**
 * A job in `state`, reached through the real transitions from a submit at T0 with
 * `delaySec: 10` and `expireAfterSec: 20` when it needs them. Times used: T0 submit,
 * T0+10 s promote, T0+11 s claim, T0+12 s finish.
 */
export function jobIn(state: JobState, spec: Partial<JobSubmit> = {}): JobRecord {
  const base: JobSubmit = { command: ['true'], ...spec };
  if (state === 'scheduled') return submit({ delaySec: 10, ...base });
  if (state === 'expired') {
    const j = submit({ expireAfterSec: 20, ...base });
    return applyPatch(j, expireJob(j, T0 + 20_000));
  }
  const queued = submit(base);
  if (state === 'queued') return queued;
  if (state === 'canceled') return applyPatch(queued, cancelJob(queued, T0 + 1_000).patch);
  const running = applyPatch(queued, claimJob(queued, { ...CLAIM, now: T0 + 11_000 }));
  if (state === 'running') return running;
  if (state === 'succeeded')
    return applyPatch(
      running,
      completeAttempt(running, { outcome: 'succeeded', exitCode: 0 }, T0 + 12_000),
    );
  // failed: no attempts left (maxAttempts defaults to 1)
  return applyPatch(
    { ...running, maxAttempts: 1 },
    completeAttempt(
      { ...running, maxAttempts: 1 },
      { outcome: 'failed', exitCode: 1 },
      T0 + 12_000,
    ),
  );
}

export function agent(overrides: Partial<AgentRecord> = {}): AgentRecord {
  return {
    id: overrides.id ?? nextId('agent'),
    name: 'box',
    state: 'online',
    capabilities: ['os:linux', 'ffmpeg', 'gpu'],
    tier: 0,
    pools: [],
    maxJobs: 4,
    resources: { cpu: 8, memoryMb: 16_384, gpus: [] },
    hostname: null,
    os: 'linux',
    arch: 'x64',
    version: '0.1.0',
    lastSeenAt: T0,
    createdAt: T0,
    ...overrides,
  };
}

export function requirements(r: Partial<Requirements> = {}): Requirements {
  return { capabilities: [], cpu: 1, memoryMb: 0, gpus: 0, gpuMemoryMb: 0, ...r };
}

export function jobClass(
  r: Partial<Requirements> = {},
  rest: Partial<Omit<JobClass, 'requires'>> = {},
): JobClass {
  return { queue: 'default', targetAgent: null, pool: null, ...rest, requires: requirements(r) };
}

export function classOfSubmit(spec: JobSubmit): JobClass {
  return jobClassOf(submit(spec));
}

/** Runs `fn` and returns the ApiError it throws (fails the test when it does not throw one). */
export function apiErrorOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('expected an ApiError, nothing was thrown');
}

export function expectApiError(fn: () => unknown, code: ApiErrorCode): ApiError {
  const err = apiErrorOf(fn);
  expect(err.code).toBe(code);
  return err;
}
