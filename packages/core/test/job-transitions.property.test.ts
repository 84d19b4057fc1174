import {
  applyPatch,
  cancelJob,
  canTransition,
  claimJob,
  completeAttempt,
  createJobRecord,
  createManualClock,
  expireJob,
  isTerminal,
  loseAttempt,
  progressJob,
  promoteJob,
  retryJob,
  timeoutAttempt,
  type JobPatch,
  type JobRecord,
} from '@offload/core';
import { ApiError, JOB_ERROR_CODES, type JobSubmit } from '@offload/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { T0 } from './fixtures.js';

type Op =
  | { op: 'advance'; ms: number }
  | { op: 'claim'; gpus: number[] }
  | {
      op: 'complete';
      outcome: 'succeeded' | 'failed' | 'handback';
      code: (typeof JOB_ERROR_CODES)[number] | null;
    }
  | { op: 'lose' }
  | { op: 'timeout' }
  | { op: 'cancel' }
  | { op: 'retry' }
  | { op: 'promote' }
  | { op: 'expire' }
  | { op: 'progress'; percent: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 400_000 }) }),
  fc.record({
    op: fc.constant('claim' as const),
    gpus: fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { maxLength: 2 }),
  }),
  fc.record({
    op: fc.constant('complete' as const),
    outcome: fc.constantFrom('succeeded' as const, 'failed' as const, 'handback' as const),
    code: fc.option(fc.constantFrom(...JOB_ERROR_CODES), { nil: null }),
  }),
  fc.constant({ op: 'lose' as const }),
  fc.constant({ op: 'timeout' as const }),
  fc.constant({ op: 'cancel' as const }),
  fc.constant({ op: 'retry' as const }),
  fc.constant({ op: 'promote' as const }),
  fc.constant({ op: 'expire' as const }),
  fc.record({ op: fc.constant('progress' as const), percent: fc.integer({ min: 0, max: 100 }) }),
);

const specArb: fc.Arbitrary<JobSubmit> = fc
  .record(
    {
      maxAttempts: fc.integer({ min: 1, max: 4 }),
      delaySec: fc.integer({ min: 0, max: 600 }),
      expireAfterSec: fc.integer({ min: 1, max: 1_200 }),
      backoff: fc.record({
        type: fc.constantFrom('fixed' as const, 'exponential' as const),
        delaySec: fc.integer({ min: 0, max: 60 }),
      }),
    },
    { requiredKeys: ['maxAttempts'] },
  )
  .map((s) => ({ command: 'true', ...s }));

/** Applies one operation through the core's functions; null when the core refuses it. */
function step(job: JobRecord, o: Op, now: number, leaseId: string): JobPatch | null {
  try {
    switch (o.op) {
      case 'advance':
        return {};
      case 'claim':
        return claimJob(job, { leaseId, agentId: 'a', agentName: 'box', gpus: o.gpus, now });
      case 'complete':
        return completeAttempt(
          job,
          o.code === null
            ? { outcome: o.outcome }
            : { outcome: o.outcome, error: { code: o.code, message: o.code } },
          now,
        );
      case 'lose':
        return loseAttempt(job, now);
      case 'timeout':
        return timeoutAttempt(job, now);
      case 'cancel':
        return cancelJob(job, now).patch;
      case 'retry':
        return retryJob(job, now);
      case 'promote':
        return promoteJob(job, now);
      case 'expire':
        return expireJob(job, now);
      case 'progress':
        return progressJob(job, { percent: o.percent });
    }
  } catch (err) {
    // The only acceptable refusal is INVALID_STATE, and it changes nothing.
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('INVALID_STATE');
    return null;
  }
}

describe('job state machine under random operations', () => {
  it('stays inside JOB_TRANSITIONS and keeps its invariants', () => {
    fc.assert(
      fc.property(specArb, fc.array(opArb, { maxLength: 60 }), (spec, ops) => {
        const clock = createManualClock(T0);
        let job = createJobRecord(spec, { id: 'p', now: clock.now() });
        let manualRetries = 0;
        let claims = 0;
        for (const o of ops) {
          if (o.op === 'advance') clock.advance(o.ms);
          const patch = step(job, o, clock.now(), `lease-${claims + 1}`);
          if (patch === null) continue;
          const prev = job;
          job = applyPatch(job, patch);
          if (o.op === 'claim') claims += 1;
          if (o.op === 'retry') manualRetries += 1;

          if (job.state !== prev.state) expect(canTransition(prev.state, job.state)).toBe(true);
          expect(job.attempt).toBeGreaterThanOrEqual(prev.attempt);
          expect(job.attempt).toBeLessThanOrEqual(job.maxAttempts + manualRetries);

          if (isTerminal(job.state)) {
            expect(job.leaseId).toBeNull();
            expect(job.gpus).toEqual([]);
            expect(job.finishedAt).not.toBeNull();
          } else {
            expect(job.finishedAt).toBeNull();
          }
          if (job.state === 'running') {
            expect(job.leaseId).toBe(`lease-${claims}`);
            expect(job.startedAt).not.toBeNull();
          } else {
            expect(job.leaseId).toBeNull();
          }
          expect(job.runAt !== null).toBe(job.state === 'scheduled');
          if (job.state === 'queued') expect(job.queuedAt).not.toBeNull();
          if (job.cancelRequested)
            expect(['running', 'canceled', 'succeeded']).toContain(job.state);
          if (job.state === 'failed' || job.state === 'canceled' || job.state === 'expired')
            expect(job.error).not.toBeNull();
          if (job.state === 'succeeded') expect(job.error).toBeNull();
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('a job that keeps failing runs exactly maxAttempts times, then fails', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.constantFrom('fail', 'lose', 'timeout'),
        (maxAttempts, how) => {
          const clock = createManualClock(T0);
          let job = createJobRecord({ command: 'x', maxAttempts }, { id: 'p', now: clock.now() });
          let runs = 0;
          while (!isTerminal(job.state)) {
            if (job.state === 'scheduled') {
              clock.set(job.runAt ?? clock.now());
              job = applyPatch(job, promoteJob(job, clock.now()));
            }
            job = applyPatch(
              job,
              claimJob(job, {
                leaseId: `l${runs}`,
                agentId: 'a',
                agentName: 'b',
                gpus: [],
                now: clock.now(),
              }),
            );
            runs += 1;
            clock.advance(1_000);
            const patch =
              how === 'fail'
                ? completeAttempt(job, { outcome: 'failed', exitCode: 1 }, clock.now())
                : how === 'lose'
                  ? loseAttempt(job, clock.now())
                  : timeoutAttempt(job, clock.now());
            job = applyPatch(job, patch);
          }
          expect(runs).toBe(maxAttempts);
          expect(job).toMatchObject({ state: 'failed', attempt: maxAttempts });
        },
      ),
    );
  });
});
