import type { JobRecord } from '@offload/core';
import { beforeEach, describe, expect, it } from 'vitest';
import { claim, ids, listAll, makeAgent, makeJob, submit } from './fixtures.js';
import type { SuiteContext } from './suite-context.js';

export function describeList(s: SuiteContext): void {
  describe('jobsList', () => {
    let j: JobRecord[] = [];
    const idsOf = (...n: number[]) => n.map((i) => j[i - 1]!.id);

    beforeEach(async () => {
      j = [
        makeJob({ queue: 'render', name: 'render frame 1', tags: { project: 'x' } }),
        makeJob({ queue: 'default', name: '50%_done', tags: { project: 'y' } }),
        makeJob({ queue: 'render', name: 'render frame 2', tags: { project: 'x', shot: 'a' } }),
        makeJob({ queue: 'default', name: '500 done' }),
        makeJob({ queue: 'default', name: 'plain', delaySec: 60 }),
        makeJob({ queue: 'render', name: 'gpu thing' }),
      ];
      await submit(s.store, ...j);
      // Same priority and queuedAt: the first two by submission order.
      const claimed = await claim(s.store, makeAgent({ name: 'worker-a' }), { max: 2 });
      expect(ids(claimed)).toEqual(idsOf(1, 2));
    });

    it('lists newest first', async () => {
      const page = await s.store.jobsList({ limit: 100 });
      expect(ids(page.jobs)).toEqual(idsOf(6, 5, 4, 3, 2, 1));
      expect(page.nextCursor).toBeNull();
      expect(page.jobs[5]?.state).toBe('running');
    });

    it('filters by state', async () => {
      expect(ids((await s.store.jobsList({ state: 'queued', limit: 100 })).jobs)).toEqual(
        idsOf(6, 4, 3),
      );
      expect(ids((await s.store.jobsList({ state: 'scheduled', limit: 100 })).jobs)).toEqual(
        idsOf(5),
      );
      expect(ids((await s.store.jobsList({ state: 'running', limit: 100 })).jobs)).toEqual(
        idsOf(2, 1),
      );
      expect((await s.store.jobsList({ state: 'failed', limit: 100 })).jobs).toEqual([]);
    });

    it('filters by queue', async () => {
      expect(ids((await s.store.jobsList({ queue: 'render', limit: 100 })).jobs)).toEqual(
        idsOf(6, 3, 1),
      );
      expect((await s.store.jobsList({ queue: 'nope', limit: 100 })).jobs).toEqual([]);
    });

    it('filters by agent name', async () => {
      expect(ids((await s.store.jobsList({ agentName: 'worker-a', limit: 100 })).jobs)).toEqual(
        idsOf(2, 1),
      );
      expect((await s.store.jobsList({ agentName: 'worker-b', limit: 100 })).jobs).toEqual([]);
    });

    it('filters by tag', async () => {
      expect(
        ids((await s.store.jobsList({ tag: { key: 'project', value: 'x' }, limit: 100 })).jobs),
      ).toEqual(idsOf(3, 1));
      expect(
        ids((await s.store.jobsList({ tag: { key: 'shot', value: 'a' }, limit: 100 })).jobs),
      ).toEqual(idsOf(3));
      expect(
        (await s.store.jobsList({ tag: { key: 'project', value: 'z' }, limit: 100 })).jobs,
      ).toEqual([]);
    });

    it('searches names by substring, with % and _ taken literally', async () => {
      expect(ids((await s.store.jobsList({ q: '50%_', limit: 100 })).jobs)).toEqual(idsOf(2));
      expect(ids((await s.store.jobsList({ q: 'frame', limit: 100 })).jobs)).toEqual(idsOf(3, 1));
      expect(ids((await s.store.jobsList({ q: '0 d', limit: 100 })).jobs)).toEqual(idsOf(4));
      expect((await s.store.jobsList({ q: '_', limit: 100 })).jobs.map((x) => x.name)).toEqual([
        '50%_done',
      ]);
    });

    it('combines filters', async () => {
      expect(
        ids((await s.store.jobsList({ queue: 'render', state: 'queued', limit: 100 })).jobs),
      ).toEqual(idsOf(6, 3));
      expect(
        ids(
          (
            await s.store.jobsList({
              tag: { key: 'project', value: 'x' },
              state: 'running',
              limit: 100,
            })
          ).jobs,
        ),
      ).toEqual(idsOf(1));
      expect(
        ids(
          (
            await s.store.jobsList({
              queue: 'render',
              q: 'frame',
              agentName: 'worker-a',
              limit: 100,
            })
          ).jobs,
        ),
      ).toEqual(idsOf(1));
    });

    it('paginates with an opaque cursor', async () => {
      const p1 = await s.store.jobsList({ limit: 2 });
      expect(ids(p1.jobs)).toEqual(idsOf(6, 5));
      expect(typeof p1.nextCursor).toBe('string');
      const p2 = await s.store.jobsList({ limit: 2, cursor: p1.nextCursor! });
      expect(ids(p2.jobs)).toEqual(idsOf(4, 3));
      const p3 = await s.store.jobsList({ limit: 2, cursor: p2.nextCursor! });
      expect(ids(p3.jobs)).toEqual(idsOf(2, 1));
      expect(p3.nextCursor).toBeNull();
    });

    it('paginates filtered lists, including by tag', async () => {
      expect(ids(await listAll(s.store, { queue: 'default' }, 1))).toEqual(idsOf(5, 4, 2));
      expect(ids(await listAll(s.store, { tag: { key: 'project', value: 'x' } }, 1))).toEqual(
        idsOf(3, 1),
      );
      expect(ids(await listAll(s.store, {}, 3))).toEqual(idsOf(6, 5, 4, 3, 2, 1));
    });

    it('refuses a cursor it did not make', async () => {
      await expect(s.store.jobsList({ limit: 2, cursor: '!!not-a-cursor!!' })).rejects.toThrow();
    });
  });
}
