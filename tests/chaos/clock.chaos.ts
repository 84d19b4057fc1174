import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { postgresTestEnv } from '@offload/store/testing';
import { describeOnEachStore, fleetPerTest, type ChaosFleet } from './chaos-fleet.js';

/**
 * Time-based promises across a server restart: a job's backoff is a stored due time (not a
 * timer that dies with the process) and its timeout is enforced on the agent's machine.
 */
const pg = await postgresTestEnv();
let fleet: ChaosFleet;

/** Wall-clock seconds at which each attempt of `jobId` started, from the runs file. */
function startTimes(file: string, jobId: string): number[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(`${jobId} `))
    .map((l) => Number(l.split(' ')[2]));
}

describeOnEachStore(
  pg,
  'timeouts and backoff hold when the server restarts mid-wait',
  (storeArgs) => {
    fleetPerTest(
      () => ['--lease-timeout', '10s', ...storeArgs()],
      (f) => (fleet = f),
    );

    it('a retry waits out its backoff, and a timeout fires, across a kill -9 of the server', async () => {
      await fleet.startServer();
      await fleet.startAgent('a1', ['--max-jobs', '4']);
      const record = 'echo "$OFFLOAD_JOB_ID $OFFLOAD_ATTEMPT $(date +%s.%N)" >> "$RUNS"';
      const flaky = await fleet.off.submit({
        name: 'flaky',
        command: ['sh', '-c', `${record}; [ "$OFFLOAD_ATTEMPT" = 2 ]`],
        env: { RUNS: fleet.runsFile },
        maxAttempts: 2,
        backoff: { type: 'fixed', delaySec: 4 },
      });
      const slow = await fleet.off.submit({
        name: 'slow',
        command: ['sh', '-c', `${record}; sleep 600`],
        env: { RUNS: fleet.runsFile },
        timeoutSec: 3,
      });
      // Attempt 1 of `flaky` has failed: it waits in its 4 s backoff; `slow` runs.
      const deadline = Date.now() + 20_000;
      while ((await fleet.off.get(flaky.id)).state !== 'scheduled') {
        if (Date.now() > deadline) throw new Error('flaky never entered its backoff');
        await new Promise((r) => setTimeout(r, 50));
      }
      await fleet.killServer();
      await new Promise((r) => setTimeout(r, 1_000));
      await fleet.startServer();

      const flakyDone = await fleet.off.wait(flaky.id, { timeoutSec: 30 });
      expect(flakyDone).toMatchObject({ state: 'succeeded', attempt: 2 });
      const [first, second] = startTimes(fleet.runsFile, flaky.id);
      // Attempt 2 starts after the backoff, counted from attempt 1's end (which is after its start).
      expect(second! - first!).toBeGreaterThanOrEqual(4);

      const slowDone = await fleet.off.wait(slow.id, { timeoutSec: 30 });
      expect(slowDone).toMatchObject({ state: 'failed', error: { code: 'TIMEOUT' } });
      expect(startTimes(fleet.runsFile, slow.id)).toHaveLength(1);
    }, 90_000);
  },
);
