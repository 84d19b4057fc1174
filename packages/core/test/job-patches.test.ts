import {
  applyPatch,
  backoffDelayMs,
  cancelJob,
  claimJob,
  completeAttempt,
  createManualClock,
  expireJob,
  isCurrentLease,
  loseAttempt,
  progressJob,
  promoteJob,
  timeoutAttempt,
  type JobRecord,
} from '@offload/core';
import { describe, expect, it } from 'vitest';
import { CLAIM, FAILED, jobIn, LATE, submit, T0 } from './fixtures.js';

// What each transition writes (its patch), beside job-transitions.test.ts, which checks
// which transitions exist between which states and which are refused.

describe('transition patches', () => {
  it('promoteJob: queued now, runAt cleared', () => {
    expect(promoteJob(jobIn('scheduled'), T0 + 12_000)).toEqual({
      state: 'queued',
      runAt: null,
      queuedAt: T0 + 12_000,
    });
  });

  it('claimJob: running under the new lease with its GPUs', () => {
    const patch = claimJob(jobIn('queued'), {
      leaseId: 'L9',
      agentId: 'a9',
      agentName: 'gpu-9',
      gpus: [1, 3],
      now: T0 + 5,
    });
    expect(patch).toEqual({
      state: 'running',
      leaseId: 'L9',
      agentId: 'a9',
      agentName: 'gpu-9',
      gpus: [1, 3],
      startedAt: T0 + 5,
    });
    expect(patch.attempt).toBeUndefined();
  });

  it('claimJob clears what an earlier attempt left, and only then', () => {
    const left = {
      ...jobIn('queued'),
      exitCode: 3,
      signal: 'SIGKILL',
      error: { code: 'EXIT_NONZERO', message: 'exit 3' },
      progress: { percent: 50 },
      usage: { wallSec: 1, cpuSec: 1, maxRssMb: 10 },
      finishedAt: T0 + 4,
    } as JobRecord;
    const after = applyPatch(left, claimJob(left, { ...CLAIM, now: T0 + 5 }));
    expect(after).toMatchObject({
      state: 'running',
      exitCode: null,
      signal: null,
      error: null,
      progress: null,
      usage: null,
      finishedAt: null,
    });
    expect(Object.keys(claimJob(jobIn('queued'), { ...CLAIM, now: T0 + 5 }))).not.toContain(
      'exitCode',
    );
  });

  it('isCurrentLease only for the running lease', () => {
    const running = jobIn('running');
    expect(isCurrentLease(running, CLAIM.leaseId)).toBe(true);
    expect(isCurrentLease(running, 'other')).toBe(false);
    expect(isCurrentLease(jobIn('succeeded'), CLAIM.leaseId)).toBe(false);
    expect(isCurrentLease(jobIn('queued'), CLAIM.leaseId)).toBe(false);
  });

  it('succeeded keeps the result, the facts, and sets progress to 100 when there was progress', () => {
    const running = applyPatch(
      jobIn('running'),
      progressJob(jobIn('running'), { percent: 40, stage: 'encode' }),
    );
    const usage = { wallSec: 3, cpuSec: 2, maxRssMb: 100 };
    const patch = completeAttempt(
      running,
      { outcome: 'succeeded', exitCode: 0, result: { url: 'x' }, usage },
      T0 + 20_000,
    );
    expect(patch).toMatchObject({
      state: 'succeeded',
      result: { url: 'x' },
      exitCode: 0,
      signal: null,
      usage,
      error: null,
      leaseId: null,
      gpus: [],
      finishedAt: T0 + 20_000,
      progress: { percent: 100, stage: 'encode' },
    });
    // No progress reported: none invented.
    expect(completeAttempt(jobIn('running'), { outcome: 'succeeded' }, LATE).progress).toBeNull();
  });

  it('a failed last attempt ends failed with the reported error, or EXIT_NONZERO by default', () => {
    const job = jobIn('running');
    const err = { code: 'TASK_FAILED', message: 'boom' } as const;
    expect(
      completeAttempt(job, { outcome: 'failed', error: err, exitCode: 3, signal: 'SIGTERM' }, LATE),
    ).toMatchObject({
      state: 'failed',
      error: err,
      exitCode: 3,
      signal: 'SIGTERM',
      leaseId: null,
      finishedAt: LATE,
    });
    expect(completeAttempt(job, { outcome: 'failed' }, LATE).error).toEqual({
      code: 'EXIT_NONZERO',
      message: 'the attempt failed',
    });
  });

  it('a failure with attempts left is scheduled as attempt + 1 after the backoff', () => {
    const clock = createManualClock(LATE);
    const job = { ...jobIn('running', { maxAttempts: 3 }) };
    const patch = completeAttempt(
      job,
      { outcome: 'failed', exitCode: 1, error: { code: 'EXIT_NONZERO', message: 'exit 1' } },
      clock.now(),
    );
    expect(patch).toMatchObject({
      state: 'scheduled',
      attempt: 2,
      runAt: LATE + 5_000,
      error: { code: 'EXIT_NONZERO', message: 'exit 1' },
      leaseId: null,
      gpus: [],
      startedAt: null,
      finishedAt: null,
      exitCode: 1,
    });
    // Second failure: exponential backoff doubles.
    const waiting = applyPatch(job, patch);
    const requeued = applyPatch(waiting, promoteJob(waiting, LATE + 5_000));
    const again = applyPatch(
      requeued,
      claimJob(requeued, { ...CLAIM, leaseId: 'L2', now: LATE + 6_000 }),
    );
    clock.set(LATE + 7_000);
    expect(completeAttempt(again, FAILED, clock.now())).toMatchObject({
      state: 'scheduled',
      attempt: 3,
      runAt: LATE + 7_000 + 10_000,
    });
    expect(backoffDelayMs(job.backoff, 2)).toBe(10_000);
  });

  it('handback keeps the attempt and clears the lease and startedAt', () => {
    const running = applyPatch(jobIn('running', { maxAttempts: 3 }), { progress: { percent: 10 } });
    const patch = completeAttempt(running, { outcome: 'handback' }, LATE);
    expect(patch).toEqual({
      state: 'queued',
      queuedAt: LATE,
      startedAt: null,
      progress: null,
      leaseId: null,
      gpus: [],
    });
    expect(applyPatch(running, patch).attempt).toBe(running.attempt);
  });

  it('a cancel request turns a failure, handback, loss or timeout into canceled', () => {
    const running = applyPatch(
      jobIn('running', { maxAttempts: 5 }),
      cancelJob(jobIn('running'), T0 + 11_500).patch,
    );
    expect(running.cancelRequested).toBe(true);
    expect(running.state).toBe('running');
    const expected = {
      state: 'canceled',
      error: { code: 'CANCELED', message: 'canceled' },
      finishedAt: LATE,
      leaseId: null,
      gpus: [],
    };
    expect(completeAttempt(running, { outcome: 'failed', signal: 'SIGKILL' }, LATE)).toMatchObject({
      ...expected,
      signal: 'SIGKILL',
    });
    expect(completeAttempt(running, { outcome: 'handback' }, LATE)).toMatchObject(expected);
    expect(loseAttempt(running, LATE)).toMatchObject(expected);
    expect(timeoutAttempt(running, LATE)).toMatchObject(expected);
  });

  it('a failure reported as CANCELED is a cancel even without a request', () => {
    const patch = completeAttempt(
      jobIn('running', { maxAttempts: 5 }),
      { outcome: 'failed', error: { code: 'CANCELED', message: 'x' } },
      LATE,
    );
    expect(patch).toMatchObject({ state: 'canceled', error: { code: 'CANCELED' } });
  });

  it('a cancel request followed by success ends succeeded', () => {
    const running = applyPatch(jobIn('running'), cancelJob(jobIn('running'), LATE).patch);
    expect(completeAttempt(running, { outcome: 'succeeded', result: 1 }, LATE)).toMatchObject({
      state: 'succeeded',
      result: 1,
    });
  });

  it('cancelJob: immediate for scheduled and queued, a request for running', () => {
    expect(cancelJob(jobIn('queued'), LATE)).toEqual({
      immediate: true,
      patch: {
        state: 'canceled',
        error: { code: 'CANCELED', message: 'canceled' },
        finishedAt: LATE,
        cancelRequested: true,
        runAt: null,
      },
    });
    const scheduled = cancelJob(jobIn('scheduled'), T0 + 1);
    expect(scheduled.immediate).toBe(true);
    expect(scheduled.patch).toMatchObject({ state: 'canceled', runAt: null });
    expect(cancelJob(jobIn('running'), LATE)).toEqual({
      immediate: false,
      patch: { cancelRequested: true },
    });
  });

  it('loseAttempt: AGENT_LOST, retried or failed', () => {
    expect(loseAttempt(jobIn('running'), LATE)).toMatchObject({
      state: 'failed',
      error: { code: 'AGENT_LOST', message: 'the agent stopped heartbeating' },
      finishedAt: LATE,
      leaseId: null,
    });
    expect(loseAttempt(jobIn('running', { maxAttempts: 2 }), LATE, 'agent revoked')).toMatchObject({
      state: 'scheduled',
      attempt: 2,
      runAt: LATE + 5_000,
      error: { code: 'AGENT_LOST', message: 'agent revoked' },
    });
  });

  it('timeoutAttempt: TIMEOUT, retried or failed', () => {
    expect(timeoutAttempt(jobIn('running', { timeoutSec: 60 }), LATE)).toMatchObject({
      state: 'failed',
      error: { code: 'TIMEOUT', message: 'ran longer than timeoutSec (60 s)' },
      leaseId: null,
    });
    expect(timeoutAttempt(jobIn('running', { maxAttempts: 2 }), LATE)).toMatchObject({
      state: 'scheduled',
      attempt: 2,
      error: { code: 'TIMEOUT' },
    });
  });

  it('expireJob: EXPIRED, runAt cleared', () => {
    const j = submit({ command: 'x', delaySec: 60, expireAfterSec: 5 });
    expect(expireJob(j, T0 + 65_000)).toEqual({
      state: 'expired',
      error: { code: 'EXPIRED', message: 'not started before its expireAfterSec' },
      finishedAt: T0 + 65_000,
      runAt: null,
    });
  });

  it('progressJob merges into the current progress', () => {
    const running = applyPatch(jobIn('running'), { progress: { percent: 10, stage: 'a' } });
    expect(progressJob(running, { percent: 20 })).toEqual({
      progress: { percent: 20, stage: 'a' },
    });
    expect(progressJob(jobIn('running'), { message: 'hi' })).toEqual({
      progress: { message: 'hi' },
    });
  });
});
