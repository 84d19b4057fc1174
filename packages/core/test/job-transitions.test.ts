import {
  applyPatch,
  backoffDelayMs,
  canTransition,
  cancelJob,
  claimJob,
  completeAttempt,
  createManualClock,
  expireJob,
  isCurrentLease,
  isTerminal,
  JOB_TRANSITIONS,
  loseAttempt,
  progressJob,
  promoteJob,
  retryJob,
  timeoutAttempt,
  type JobPatch,
  type JobRecord,
} from '@offload/core';
import { JOB_STATES, TERMINAL_STATES, type JobState } from '@offload/protocol';
import { describe, expect, it } from 'vitest';
import { CLAIM, expectApiError, jobIn, submit, T0 } from './fixtures.js';

/** Late enough that every due time set by `jobIn` (runAt, expireAt) has passed. */
const LATE = T0 + 3_600_000;

/**
 * Every way a job can be driven to a state, each a transition function applied to a job.
 * The job is taken as `jobIn(from)`; drivers that need a precondition other than the state
 * (attempts left, a cancel request) set it on the job, which does not change its state.
 */
interface Driver {
  name: string;
  to: JobState;
  run: (job: JobRecord, now: number) => JobPatch;
}

const failed = { outcome: 'failed', exitCode: 1 } as const;

const DRIVERS: Driver[] = [
  { name: 'promoteJob', to: 'queued', run: (j, now) => promoteJob(j, now) },
  {
    name: 'completeAttempt(handback)',
    to: 'queued',
    run: (j, now) => completeAttempt(j, { outcome: 'handback' }, now),
  },
  { name: 'retryJob', to: 'queued', run: (j, now) => retryJob(j, now) },
  { name: 'claimJob', to: 'running', run: (j, now) => claimJob(j, { ...CLAIM, now }) },
  {
    name: 'completeAttempt(succeeded)',
    to: 'succeeded',
    run: (j, now) => completeAttempt(j, { outcome: 'succeeded', exitCode: 0 }, now),
  },
  {
    name: 'completeAttempt(failed), last attempt',
    to: 'failed',
    run: (j, now) => completeAttempt({ ...j, maxAttempts: j.attempt }, failed, now),
  },
  {
    name: 'loseAttempt, last attempt',
    to: 'failed',
    run: (j, now) => loseAttempt({ ...j, maxAttempts: j.attempt }, now),
  },
  {
    name: 'timeoutAttempt, last attempt',
    to: 'failed',
    run: (j, now) => timeoutAttempt({ ...j, maxAttempts: j.attempt }, now),
  },
  {
    name: 'completeAttempt(failed), attempts left',
    to: 'scheduled',
    run: (j, now) => completeAttempt({ ...j, maxAttempts: j.attempt + 1 }, failed, now),
  },
  {
    name: 'loseAttempt, attempts left',
    to: 'scheduled',
    run: (j, now) => loseAttempt({ ...j, maxAttempts: j.attempt + 1 }, now),
  },
  {
    name: 'timeoutAttempt, attempts left',
    to: 'scheduled',
    run: (j, now) => timeoutAttempt({ ...j, maxAttempts: j.attempt + 1 }, now),
  },
  { name: 'cancelJob', to: 'canceled', run: (j, now) => cancelJob(j, now).patch },
  {
    name: 'completeAttempt(failed) after cancel',
    to: 'canceled',
    run: (j, now) => completeAttempt({ ...j, cancelRequested: true }, failed, now),
  },
  {
    name: 'completeAttempt(handback) after cancel',
    to: 'canceled',
    run: (j, now) => completeAttempt({ ...j, cancelRequested: true }, { outcome: 'handback' }, now),
  },
  {
    name: 'loseAttempt after cancel',
    to: 'canceled',
    run: (j, now) => loseAttempt({ ...j, cancelRequested: true }, now),
  },
  {
    name: 'timeoutAttempt after cancel',
    to: 'canceled',
    run: (j, now) => timeoutAttempt({ ...j, cancelRequested: true, maxAttempts: 5 }, now),
  },
  { name: 'expireJob', to: 'expired', run: (j, now) => expireJob(j, now) },
];

/** A job in `from` whose runAt and expireAt have both passed at LATE. */
const jobFor = (from: JobState) => jobIn(from, { expireAfterSec: 20 });

const PAIRS = JOB_STATES.flatMap((from) =>
  JOB_STATES.map((to) => ({ from, to, legal: JOB_TRANSITIONS[from].includes(to) })),
);

describe('every (from, to) pair of job states', () => {
  it('covers all 49 pairs and every target has a driver', () => {
    expect(PAIRS).toHaveLength(49);
    for (const s of JOB_STATES) expect(DRIVERS.some((d) => d.to === s)).toBe(true);
  });

  it.each(PAIRS.filter((p) => p.legal))(
    '$from → $to is reached by a transition function',
    ({ from, to }) => {
      const job = jobFor(from);
      const reached: string[] = [];
      for (const d of DRIVERS.filter((x) => x.to === to)) {
        let patch: JobPatch;
        try {
          patch = d.run(job, LATE);
        } catch (err) {
          expect(err).toMatchObject({ code: 'INVALID_STATE' });
          continue;
        }
        // cancelJob on a running job only records the request; every other result is the target.
        if (patch.state === undefined) {
          expect(d.name).toBe('cancelJob');
          expect(patch).toEqual({ cancelRequested: true });
          continue;
        }
        expect(patch.state, d.name).toBe(to);
        reached.push(d.name);
      }
      expect(reached.length).toBeGreaterThan(0);
    },
  );

  it.each(PAIRS.filter((p) => !p.legal))(
    '$from → $to is refused with INVALID_STATE by every function',
    ({ from, to }) => {
      const job = jobFor(from);
      for (const d of DRIVERS.filter((x) => x.to === to)) {
        const err = expectApiError(() => d.run(job, LATE), 'INVALID_STATE');
        expect(err.status).toBe(409);
        expect(err.details).toMatchObject({ jobId: job.id, state: from });
      }
    },
  );

  it('JOB_TRANSITIONS is exactly the set of pairs the functions produce', () => {
    const produced = new Set<string>();
    for (const from of JOB_STATES) {
      for (const d of DRIVERS) {
        try {
          const patch = d.run(jobFor(from), LATE);
          if (patch.state !== undefined && patch.state !== from)
            produced.add(`${from}->${patch.state}`);
        } catch {
          // refused
        }
      }
    }
    const table = new Set(
      JOB_STATES.flatMap((from) => JOB_TRANSITIONS[from].map((to) => `${from}->${to}`)),
    );
    expect([...produced].sort()).toEqual([...table].sort());
  });

  it('canTransition and isTerminal agree with the table and TERMINAL_STATES', () => {
    for (const { from, to, legal } of PAIRS) expect(canTransition(from, to)).toBe(legal);
    for (const s of JOB_STATES) expect(isTerminal(s)).toBe(TERMINAL_STATES.includes(s));
    for (const s of TERMINAL_STATES) expect(JOB_TRANSITIONS[s]).toEqual(['queued']);
  });
});

describe('refusals named in SPEC', () => {
  it.each([
    ['claim of a running job', () => claimJob(jobIn('running'), { ...CLAIM, now: LATE })],
    ['claim of a scheduled job', () => claimJob(jobIn('scheduled'), { ...CLAIM, now: LATE })],
    [
      'complete of a queued job',
      () => completeAttempt(jobIn('queued'), { outcome: 'succeeded' }, LATE),
    ],
    ['cancel of a succeeded job', () => cancelJob(jobIn('succeeded'), LATE)],
    ['cancel of an expired job', () => cancelJob(jobIn('expired'), LATE)],
    ['retry of a running job', () => retryJob(jobIn('running'), LATE)],
    ['retry of a queued job', () => retryJob(jobIn('queued'), LATE)],
    ['promote of a queued job', () => promoteJob(jobIn('queued'), LATE)],
    ['promote before runAt', () => promoteJob(jobIn('scheduled'), T0 + 9_999)],
    [
      'expire before expireAt',
      () => expireJob(submit({ command: 'x', expireAfterSec: 20 }), T0 + 19_999),
    ],
    ['expire of a job without expireAfterSec', () => expireJob(jobIn('queued'), LATE)],
    ['expire of a running job', () => expireJob(jobIn('running', { expireAfterSec: 1 }), LATE)],
    ['progress of a queued job', () => progressJob(jobIn('queued'), { percent: 5 })],
    ['lose of a succeeded job', () => loseAttempt(jobIn('succeeded'), LATE)],
    ['timeout of a queued job', () => timeoutAttempt(jobIn('queued'), LATE)],
  ])('%s → INVALID_STATE', (_what, fn) => {
    expectApiError(fn, 'INVALID_STATE');
  });

  it('promote and expire are allowed exactly at their due time', () => {
    expect(promoteJob(jobIn('scheduled'), T0 + 10_000).state).toBe('queued');
    const j = submit({ command: 'x', expireAfterSec: 20 });
    expect(expireJob(j, T0 + 20_000).state).toBe('expired');
  });
});

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
    expect(completeAttempt(again, failed, clock.now())).toMatchObject({
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

describe('manual retry', () => {
  const cleared = {
    state: 'queued',
    runAt: null,
    expireAt: null,
    cancelRequested: false,
    leaseId: null,
    agentId: null,
    agentName: null,
    gpus: [],
    exitCode: null,
    signal: null,
    error: null,
    progress: null,
    usage: null,
    startedAt: null,
    finishedAt: null,
  };

  it('of a job that ran is a new attempt, even past maxAttempts', () => {
    for (const s of ['succeeded', 'failed'] as const) {
      const job = jobIn(s);
      expect(job.attempt).toBe(1);
      const patch = retryJob(job, LATE);
      expect(patch).toMatchObject({ ...cleared, attempt: 2, queuedAt: LATE });
      expect(patch.result).toBeUndefined();
      expect('result' in patch).toBe(true);
    }
  });

  it('grants exactly one attempt: a failure after it is final', () => {
    const failedJob = jobIn('failed');
    const requeued = applyPatch(failedJob, retryJob(failedJob, LATE));
    const running = applyPatch(
      requeued,
      claimJob(requeued, { ...CLAIM, leaseId: 'L2', now: LATE + 1 }),
    );
    expect(completeAttempt(running, failed, LATE + 2)).toMatchObject({
      state: 'failed',
      finishedAt: LATE + 2,
    });
  });

  it('of a job canceled while running is a new attempt', () => {
    const running = jobIn('running');
    const requested = applyPatch(running, cancelJob(running, LATE).patch);
    const canceled = applyPatch(
      requested,
      completeAttempt(requested, { outcome: 'failed', signal: 'SIGTERM' }, LATE),
    );
    expect(canceled.state).toBe('canceled');
    expect(retryJob(canceled, LATE + 1)).toMatchObject({ ...cleared, attempt: 2 });
  });

  it('of a job canceled or expired before it started keeps its attempt', () => {
    expect(retryJob(jobIn('canceled'), LATE)).toMatchObject({ ...cleared, attempt: 1 });
    expect(retryJob(jobIn('expired'), LATE)).toMatchObject({ ...cleared, attempt: 1 });
    // Canceled while waiting for a retry: attempt 2 never started.
    const running = jobIn('running', { maxAttempts: 3 });
    const waiting = applyPatch(running, loseAttempt(running, LATE));
    expect(waiting).toMatchObject({ state: 'scheduled', attempt: 2 });
    const canceled = applyPatch(waiting, cancelJob(waiting, LATE + 1).patch);
    expect(retryJob(canceled, LATE + 2).attempt).toBe(2);
  });

  it('drops a passed expireAt so the retried job is not expired again', () => {
    const expired = jobIn('expired');
    expect(expired.expireAt).not.toBeNull();
    const requeued = applyPatch(expired, retryJob(expired, LATE));
    expect(requeued.expireAt).toBeNull();
    expectApiError(() => expireJob(requeued, LATE + 1), 'INVALID_STATE');
    expect(claimJob(requeued, { ...CLAIM, now: LATE + 1 }).state).toBe('running');
  });
});
