import { expect, it } from 'vitest';
import type { JobSubmit } from '@offload/protocol';
import { postgresTestEnv } from '@offload/store/testing';
import { describeOnEachStore, fleetPerTest, type ChaosFleet } from './chaos-fleet.js';

/**
 * kill -9 of the server under load, then a restart on the same store: every job whose submit
 * was acknowledged finishes, and none runs twice — jobs running at the crash keep running on
 * their agents, which report them after reconnecting. The same case on each store.
 */
const TOTAL = 1_500;
const BATCH = 100;

const pg = await postgresTestEnv();

/** The case, on the store `storeArgs` gives the server. */
function crashUnderLoad(storeArgs: () => string[]): void {
  let fleet: ChaosFleet;
  fleetPerTest(
    () => ['--lease-timeout', '15s', ...storeArgs()],
    (f) => (fleet = f),
  );

  it('loses no acknowledged job and runs none twice', async () => {
    await fleet.startServer();
    await fleet.startAgent('a1', ['--max-jobs', '12']);
    await fleet.startAgent('a2', ['--max-jobs', '12']);

    const specs: JobSubmit[] = Array.from({ length: TOTAL }, (_, i) =>
      fleet.recordingJob(`crash-${i}`, 0.05 + (i % 5) * 0.02),
    );
    const acked = new Map<string, string>(); // name → id
    let crashed = false;
    // The submitter goes on through the crash: a batch that fails is sent again (its
    // idempotency keys make that safe); only acknowledged submits count.
    for (let from = 0; from < TOTAL;) {
      const batch = specs.slice(from, from + BATCH);
      try {
        for (const job of await fleet.off.submitBatch(batch)) acked.set(job.name, job.id);
        from += BATCH;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
      if (!crashed && from >= TOTAL / 3) {
        // Let work get going, then crash with thousands queued and dozens running.
        await new Promise((r) => setTimeout(r, 500));
        const { counts } = await fleet.off.stats();
        expect(counts.running).toBeGreaterThan(0);
        await fleet.killServer();
        crashed = true;
        await new Promise((r) => setTimeout(r, 1_000));
        await fleet.startServer();
      }
    }
    expect(acked.size).toBe(TOTAL);

    await fleet.expectEachRanOnce(acked.values(), TOTAL, 120_000);
  }, 180_000);
}

describeOnEachStore(pg, 'the server is killed with -9 under load', crashUnderLoad);
