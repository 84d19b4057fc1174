import path from 'node:path';
import { expect, it } from 'vitest';
import { postgresTestEnv } from '@offload/store/testing';
import { readOutbox } from '../../packages/agent/src/daemon/outbox.js';
import { describeOnEachStore, fleetPerTest, type ChaosFleet } from './chaos-fleet.js';
import { TcpProxy } from './tcp-proxy.js';

const pg = await postgresTestEnv();
let fleet: ChaosFleet;

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describeOnEachStore(pg, 'an agent is killed or cut off', (storeArgs) => {
  fleetPerTest(
    () => ['--lease-timeout', '3s', ...storeArgs()],
    (f) => (fleet = f),
  );

  it('killed with -9 and restarted with the same state dir: its jobs are adopted, not run again', async () => {
    await fleet.startServer();
    const a1 = await fleet.startAgent('a1', ['--max-jobs', '6']);
    await fleet.startAgent('a2', ['--max-jobs', '6']);
    await fleet.off.agents.drain('a2');
    const jobs = await fleet.off.submitBatch(
      Array.from({ length: 6 }, (_, i) =>
        fleet.recordingJob(`adopt-${i}`, 2.5, { maxAttempts: 2 }),
      ),
    );
    // Their processes run (each wrote its line): a1 has recorded all six.
    await until('six processes started on a1', async () =>
      fleet.runs().size === 6 ? true : undefined,
    );
    a1.child.kill('SIGKILL');
    await a1.exited;
    await fleet.off.agents.resume('a2'); // free to take anything the server gives up on
    await fleet.startAgent('a1', ['--max-jobs', '6']); // within the 3 s lease
    const done = await Promise.all(jobs.map((j) => fleet.off.wait(j.id, { timeoutSec: 30 })));
    for (const job of done) {
      expect(job).toMatchObject({ state: 'succeeded', attempt: 1 });
      expect(job.agent?.name).toBe('a1');
    }
    const runs = fleet.runs();
    for (const job of jobs) expect(runs.get(job.id)).toEqual([1]);
  }, 90_000);

  it('cut off longer than the lease: the job is run again elsewhere, the late report is refused, it ends once', async () => {
    await fleet.startServer();
    const proxy = await new TcpProxy({ host: '127.0.0.1', port: fleet.port }).listen();
    try {
      await fleet.startAgent('far', ['--max-jobs', '2'], proxy.url);
      await fleet.startAgent('near', ['--max-jobs', '2']);
      await fleet.off.agents.drain('near');
      // Attempt 1 runs long on `far`; attempt 2 is quick.
      const job = await fleet.off.submit({
        name: 'partitioned',
        command: [
          'sh',
          '-c',
          'echo "$OFFLOAD_JOB_ID $OFFLOAD_ATTEMPT" >> "$RUNS"; if [ "$OFFLOAD_ATTEMPT" = 1 ]; then sleep 6; fi; echo "attempt $OFFLOAD_ATTEMPT"',
        ],
        env: { RUNS: fleet.runsFile },
        maxAttempts: 2,
        backoff: { type: 'fixed', delaySec: 0 },
      });
      await until('attempt 1 started on far', async () =>
        fleet.runs().get(job.id)?.length === 1 ? true : undefined,
      );
      expect((await fleet.off.get(job.id)).agent?.name).toBe('far');
      proxy.cut();
      await fleet.off.agents.resume('near');
      const done = await fleet.off.wait(job.id, { timeoutSec: 30 });
      expect(done).toMatchObject({ state: 'succeeded', attempt: 2 });
      expect(done.agent?.name).toBe('near');

      // `far` finishes attempt 1 meanwhile and keeps its report until the server answers.
      const farState = path.join(fleet.dir, 'agent-far');
      await until('the report of attempt 1 in far’s outbox', async () =>
        readOutbox(farState).some((c) => c.jobId === job.id) ? true : undefined,
      );
      await proxy.restore();
      await until('far’s outbox to empty (the report refused as stale)', async () =>
        readOutbox(farState).length === 0 ? true : undefined,
      );
      const after = await fleet.off.get(job.id);
      expect(after).toMatchObject({ state: 'succeeded', attempt: 2, finishedAt: done.finishedAt });
      expect(after.agent?.name).toBe('near');
      expect(fleet.runs().get(job.id)).toEqual([1, 2]);
    } finally {
      await proxy.close();
    }
  }, 90_000);
});
