import {
  applyPatch,
  canTransition,
  cancelJob,
  claimJob,
  completeAttempt,
  expireJob,
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
import { CLAIM, expectApiError, FAILED, jobIn, LATE, submit, T0 } from './fixtures.js';

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
    name: 'completeAttempt(FAILED), last attempt',
    to: 'failed',
    run: (j, now) => completeAttempt({ ...j, maxAttempts: j.attempt }, FAILED, now),
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
    name: 'completeAttempt(FAILED), attempts left',
    to: 'scheduled',
    run: (j, now) => completeAttempt({ ...j, maxAttempts: j.attempt + 1 }, FAILED, now),
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
    name: 'completeAttempt(FAILED) after cancel',
    to: 'canceled',
    run: (j, now) => completeAttempt({ ...j, cancelRequested: true }, FAILED, now),
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
    expect(completeAttempt(running, FAILED, LATE + 2)).toMatchObject({
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
