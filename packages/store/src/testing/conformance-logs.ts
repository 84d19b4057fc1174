import type { AgentRecord, JobRecord } from '@offload/core';
import { describe, expect, it } from 'vitest';
import { makeAgent, report, startJob, T0 } from './fixtures.js';
import type { SuiteContext } from './suite-context.js';

export function describeLogs(s: SuiteContext): void {
  describe('logs', () => {
    const append = (
      agent: AgentRecord,
      job: JobRecord,
      data: string[],
      capBytes = 1_000_000,
      stream: 'stdout' | 'stderr' = 'stdout',
    ) =>
      s.store.logsAppend({
        agentId: agent.id,
        chunks: data.map((d) => ({ jobId: job.id, leaseId: job.leaseId!, stream, data: d })),
        capBytes,
        now: T0 + 1,
      });
    const text = async (job: JobRecord) =>
      (await s.store.logsRead({ jobId: job.id })).chunks.map((c) => c.data);

    it('appends chunks in order and reads them after a seq, up to a limit', async () => {
      const agent = makeAgent();
      const job = await startJob(s.store, agent);
      const r = await s.store.logsAppend({
        agentId: agent.id,
        chunks: [
          { jobId: job.id, leaseId: job.leaseId!, stream: 'stdout', data: 'a\n' },
          { jobId: job.id, leaseId: job.leaseId!, stream: 'stderr', data: 'b\n' },
          { jobId: job.id, leaseId: job.leaseId!, stream: 'stdout', data: 'c\n' },
        ],
        capBytes: 1_000,
        now: T0 + 1,
      });
      expect(r.stale).toEqual([]);
      expect(r.appended.map((c) => [c.seq, c.stream, c.data])).toEqual([
        [1, 'stdout', 'a\n'],
        [2, 'stderr', 'b\n'],
        [3, 'stdout', 'c\n'],
      ]);
      const all = await s.store.logsRead({ jobId: job.id });
      expect(all).toEqual({ chunks: r.appended, truncated: false });
      expect(all.chunks[0]).toEqual({
        jobId: job.id,
        seq: 1,
        stream: 'stdout',
        data: 'a\n',
        at: T0 + 1,
      });
      expect(
        (await s.store.logsRead({ jobId: job.id, afterSeq: 1 })).chunks.map((c) => c.seq),
      ).toEqual([2, 3]);
      expect(
        (await s.store.logsRead({ jobId: job.id, limit: 1 })).chunks.map((c) => c.seq),
      ).toEqual([1]);
      await append(agent, job, ['d\n']);
      expect(
        (await s.store.logsRead({ jobId: job.id, afterSeq: 3 })).chunks.map((c) => [c.seq, c.data]),
      ).toEqual([[4, 'd\n']]);
    });

    it('drops chunks of stale leases and returns those lease ids', async () => {
      const agent = makeAgent();
      const job = await startJob(s.store, agent);
      const r = await s.store.logsAppend({
        agentId: agent.id,
        chunks: [
          { jobId: job.id, leaseId: 'old-lease', stream: 'stdout', data: 'x' },
          { jobId: job.id, leaseId: job.leaseId!, stream: 'stdout', data: 'ok' },
          { jobId: 'no-such-job', leaseId: 'l2', stream: 'stdout', data: 'y' },
        ],
        capBytes: 100,
        now: T0,
      });
      expect(r.stale).toEqual(['old-lease', 'l2']);
      expect(r.appended.map((c) => c.data)).toEqual(['ok']);
      expect(
        (
          await s.store.logsAppend({
            agentId: 'someone-else',
            chunks: [{ jobId: job.id, leaseId: job.leaseId!, stream: 'stdout', data: 'z' }],
            capBytes: 100,
            now: T0,
          })
        ).stale,
      ).toEqual([job.leaseId]);
      await report(s.store, job, { outcome: 'succeeded' }, T0 + 1);
      expect((await append(agent, job, ['late'])).stale).toEqual([job.leaseId]);
      expect(await text(job)).toEqual(['ok']);
    });

    it('keeps the tail within capBytes and marks the log truncated', async () => {
      const agent = makeAgent();
      const job = await startJob(s.store, agent);
      await append(agent, job, ['aaaa', 'bbbb', 'cccc'], 10);
      expect(await text(job)).toEqual(['bbbb', 'cccc']);
      expect((await s.store.logsRead({ jobId: job.id })).truncated).toBe(true);
      expect((await s.store.logsRead({ jobId: job.id })).chunks.map((c) => c.seq)).toEqual([2, 3]);
      await append(agent, job, ['dd'], 10);
      expect(await text(job)).toEqual(['bbbb', 'cccc', 'dd']);
      await append(agent, job, ['e'], 10);
      expect(await text(job)).toEqual(['cccc', 'dd', 'e']);
    });

    it('keeps the tail of one chunk larger than the cap, at a character boundary', async () => {
      const agent = makeAgent();
      const job = await startJob(s.store, agent);
      await append(agent, job, ['0123456789'], 5);
      expect(await text(job)).toEqual(['56789']);
      const other = await startJob(s.store, agent, { queue: 'utf8' });
      await append(agent, other, ['ééé'], 5); // 6 bytes in UTF-8
      expect(await text(other)).toEqual(['éé']);
      expect((await s.store.logsRead({ jobId: other.id })).truncated).toBe(true);
    });

    it('does not mark a log truncated below the cap, and keeps logs per job', async () => {
      const agent = makeAgent();
      const a = await startJob(s.store, agent);
      const b = await startJob(s.store, agent, { queue: 'b' });
      await append(agent, a, ['12345'], 5);
      await append(agent, b, ['x'], 5);
      expect(await s.store.logsRead({ jobId: a.id })).toMatchObject({ truncated: false });
      expect(await text(a)).toEqual(['12345']);
      expect(await text(b)).toEqual(['x']);
    });

    it('refuses to read the logs of an unknown job', async () => {
      await expect(s.store.logsRead({ jobId: 'no-such-job' })).rejects.toMatchObject({
        code: 'JOB_NOT_FOUND',
      });
    });
  });
}
