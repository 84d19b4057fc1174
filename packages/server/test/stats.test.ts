import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createJobRecord, type JobRecord } from '@offload/core';
import { openSqliteStore, type Store } from '@offload/store';
import { Stats } from '../src/services/stats.js';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'offload-stats-'));
  store = await openSqliteStore({ path: path.join(dir, 'offload.db') });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const NOW = 1_700_000_000_000;

let seq = 0;
function job(queue: string, state: JobRecord['state'], wallSec: number | null): JobRecord {
  const base = createJobRecord({ task: 'noop', queue }, { id: `job_${seq++}`, now: NOW });
  return {
    ...base,
    state,
    queuedAt: NOW,
    startedAt: NOW + 30,
    finishedAt: NOW + 40,
    usage: wallSec === null ? null : { wallSec },
  };
}

async function values(stats: Stats, name: string): Promise<Record<string, number>> {
  const metric = await stats.registry.getSingleMetric(name)!.get();
  return Object.fromEntries(
    metric.values
      .map((v) => [
        `${(v as { metricName?: string }).metricName ?? name}{${Object.entries(v.labels)
          .filter(([k]) => k !== 'le')
          .map(([k, l]) => `${k}=${l}`)
          .join(',')}}`,
        v.value,
      ])
      .filter(([k]) => !String(k).includes('_bucket')),
  );
}

describe('Stats', () => {
  it('counts a batch that mixes queues and states per queue and state', async () => {
    const stats = new Stats(store, () => NOW);
    const batch = [
      job('a', 'succeeded', 0.5),
      job('a', 'succeeded', 1.5),
      job('b', 'succeeded', 2),
      job('a', 'failed', null),
      job('a', 'succeeded', 4),
      job('b', 'failed', 0.25),
    ];
    stats.started(batch);
    stats.finished(batch);
    expect(await values(stats, 'offload_jobs_finished_total')).toEqual({
      'offload_jobs_finished_total{queue=a,state=succeeded}': 3,
      'offload_jobs_finished_total{queue=b,state=succeeded}': 1,
      'offload_jobs_finished_total{queue=a,state=failed}': 1,
      'offload_jobs_finished_total{queue=b,state=failed}': 1,
    });
    const run = await values(stats, 'offload_job_run_seconds');
    expect(run['offload_job_run_seconds_count{queue=a,state=succeeded}']).toBe(3);
    expect(run['offload_job_run_seconds_sum{queue=a,state=succeeded}']).toBe(6);
    expect(run['offload_job_run_seconds_count{queue=b,state=failed}']).toBe(1);
    expect(run['offload_job_run_seconds_count{queue=a,state=failed}']).toBeUndefined();
    const wait = await values(stats, 'offload_job_queue_wait_seconds');
    expect(wait['offload_job_queue_wait_seconds_count{queue=a}']).toBe(4);
    expect(wait['offload_job_queue_wait_seconds_count{queue=b}']).toBe(2);
    expect(wait['offload_job_queue_wait_seconds_sum{queue=b}']).toBeCloseTo(0.06);
    const minute = stats.perMinute().at(-1)!;
    expect([minute.started, minute.succeeded, minute.failed]).toEqual([6, 4, 2]);
  });
});
