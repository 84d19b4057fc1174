import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OffloadApiError } from '@offload/client';
import { assertBuilt } from '../../packages/cli/test/cli-process.js';
import { ChaosFleet, freePort } from './chaos-fleet.js';

/**
 * The SQLite store's disk fills up: the server refuses writes with 503 and reports not-ready,
 * stays up, and recovers on its own once there is room; no acknowledged job is lost. The data
 * directory is a small tmpfs (a real full filesystem: ENOSPC from the kernel), which needs
 * root — as the tests have in CI.
 */
let fleet: ChaosFleet;
let mount: string;
let mounted = false;

function tryMount(dir: string): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return (err as Error).message.split('\n')[0] ?? 'mount failed';
  }
}

const mountProblem = await (async () => {
  const probe = mkdtempSync(path.join(tmpdir(), 'offload-mount-probe-'));
  const problem = tryMount(probe);
  if (problem === null) execFileSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
  return problem;
})();
if (mountProblem && process.env.CI !== 'true')
  console.warn(
    `skipping the disk-full case: cannot mount a small tmpfs (${mountProblem}); run as root`,
  );

beforeEach(async () => {
  assertBuilt();
  fleet = new ChaosFleet(mkdtempSync(path.join(tmpdir(), 'offload-chaos-')), await freePort(), [
    '--lease-timeout',
    '10s',
    '--log-level',
    'fatal',
  ]);
  mount = path.join(fleet.dir, 'server');
  mkdirSync(mount);
});
afterEach(async () => {
  await fleet.close();
  if (mounted) execFileSync('umount', ['-l', mount]);
  mounted = false;
  rmSync(fleet.dir, { recursive: true, force: true });
});

describe.skipIf(mountProblem !== null && process.env.CI !== 'true')(
  'the store’s disk fills up (SQLite)',
  () => {
    it('refuses writes with 503, reports not ready, recovers by itself, loses nothing', async () => {
      expect(mountProblem).toBeNull(); // under CI=true a missing mount is a failure, not a skip
      expect(tryMount(mount)).toBeNull();
      mounted = true;
      await fleet.startServer();
      await fleet.startAgent('a1', ['--max-jobs', '8']);

      // Leave ~1 MiB free, then submit until the disk refuses.
      const ballast = path.join(mount, 'ballast');
      const free = () => {
        const s = statfsSync(mount);
        return s.bavail * s.bsize;
      };
      writeFileSync(ballast, Buffer.alloc(Math.max(0, free() - 1024 * 1024)));
      const acked: string[] = [];
      let refused: OffloadApiError | undefined;
      const padding = 'x'.repeat(4_000); // each job carries ~4 KB, so the disk fills in a few batches
      for (let batch = 0; batch < 200 && !refused; batch++) {
        try {
          const jobs = await fleet.off.submitBatch(
            Array.from({ length: 25 }, (_, i) => ({
              name: `full-${batch}-${i}`,
              command: ['true'],
              env: { PADDING: padding },
              requires: { cpu: 0.1 },
            })),
          );
          acked.push(...jobs.map((j) => j.id));
        } catch (err) {
          if (!(err instanceof OffloadApiError)) throw err;
          refused = err;
        }
      }
      expect(refused?.status).toBe(503);
      expect(refused?.code).toBe('NOT_READY');
      // Readiness reports the refusal until a write succeeds again — and a small one (an
      // agent's heartbeat) may still fit in the file's free pages, so ask right after a
      // refused write, a few times.
      let ready = { status: 0, text: '' };
      for (let i = 0; i < 20 && ready.status !== 503; i++) {
        await fleet.off
          .submit({ command: ['true'], env: { PADDING: padding }, requires: { cpu: 0.1 } })
          .then((job) => acked.push(job.id)) // it fitted after all: it counts
          .catch(() => undefined);
        const res = await fetch(`${fleet.url}/readyz`);
        ready = { status: res.status, text: await res.text() };
      }
      expect(ready.status).toBe(503);
      expect(ready.text).toMatch(/refuses writes \(SQLITE_FULL/);
      expect(fleet.server!.running).toBe(true);

      // Room again: the server takes writes without a restart.
      rmSync(ballast);
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          acked.push((await fleet.off.submit({ command: ['true'], requires: { cpu: 0.1 } })).id);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      expect((await fetch(`${fleet.url}/readyz`)).status).toBe(200);
      const counts = await fleet.allTerminal(acked.length, 60_000);
      expect(counts.succeeded).toBe(acked.length);
      for (const id of acked.slice(0, 50))
        expect((await fleet.off.get(id)).state).toBe('succeeded');
    }, 120_000);
  },
);
