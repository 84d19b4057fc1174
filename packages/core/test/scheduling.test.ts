import {
  DEFAULT_TIER_GRACE_MS,
  freeResources,
  priorityFromRank,
  priorityRank,
  tierCutoff,
  type AgentRecord,
  type PeerAgent,
  type Reservation,
} from '@offload/core';
import { PRIORITIES } from '@offload/protocol';
import { describe, expect, it } from 'vitest';
import { agent, jobClass, T0 } from './fixtures.js';

describe('priority ranks', () => {
  it('sorts critical < high < normal < low', () => {
    expect(PRIORITIES.map(priorityRank)).toEqual([0, 1, 2, 3]);
    expect(priorityRank('critical')).toBeLessThan(priorityRank('high'));
    expect(priorityRank('high')).toBeLessThan(priorityRank('normal'));
    expect(priorityRank('normal')).toBeLessThan(priorityRank('low'));
  });

  it('round-trips through priorityFromRank', () => {
    for (const p of PRIORITIES) expect(priorityFromRank(priorityRank(p))).toBe(p);
  });

  it('refuses a rank that is no priority', () => {
    for (const r of [-1, 4, 1.5, Number.NaN]) expect(() => priorityFromRank(r)).toThrow(RangeError);
  });
});

describe('tierCutoff', () => {
  const NOW = T0 + 60_000;
  const GRACE = DEFAULT_TIER_GRACE_MS;
  const c = jobClass({ capabilities: ['ffmpeg'], cpu: 2 });
  const slow = agent({ id: 'slow', name: 'slow', tier: 0, capabilities: ['ffmpeg'] });
  const fast = agent({ id: 'fast', name: 'fast', tier: 10, capabilities: ['ffmpeg'] });
  const peer = (a: AgentRecord, running: Reservation[] = []): PeerAgent => ({
    agent: a,
    free: freeResources(a, running),
  });

  it('grace defaults to 2 s', () => {
    expect(DEFAULT_TIER_GRACE_MS).toBe(2_000);
  });

  it('is null with no peers or only lower- and same-tier peers', () => {
    expect(tierCutoff(slow, c, [], NOW, GRACE)).toBeNull();
    const same = agent({ id: 'same', tier: 0, capabilities: ['ffmpeg'] });
    expect(tierCutoff(slow, c, [peer(same)], NOW, GRACE)).toBeNull();
    expect(tierCutoff(fast, c, [peer(slow), peer(same)], NOW, GRACE)).toBeNull();
  });

  it('is now - grace when a higher-tier non-full peer accepts the class', () => {
    expect(tierCutoff(slow, c, [peer(fast)], NOW, GRACE)).toBe(NOW - GRACE);
    expect(tierCutoff(slow, c, [peer(slow), peer(fast)], NOW, 500)).toBe(NOW - 500);
    // Accepts a generic set of peers, e.g. a Map's values.
    expect(tierCutoff(slow, c, new Map([['fast', peer(fast)]]).values(), NOW, GRACE)).toBe(
      NOW - GRACE,
    );
  });

  it('is null when the higher-tier peer is full', () => {
    const busySlots = peer({ ...fast, maxJobs: 1 }, [{ cpu: 0, memoryMb: 0, gpus: [] }]);
    expect(tierCutoff(slow, c, [busySlots], NOW, GRACE)).toBeNull();
    const busyCpu = peer(fast, [{ cpu: 7, memoryMb: 0, gpus: [] }]);
    expect(tierCutoff(slow, c, [busyCpu], NOW, GRACE)).toBeNull();
  });

  it('is null when the higher-tier peer is draining, offline or revoked', () => {
    for (const state of ['draining', 'offline', 'revoked'] as const) {
      expect(tierCutoff(slow, c, [peer({ ...fast, state })], NOW, GRACE)).toBeNull();
    }
  });

  it('is null when the higher-tier peer lacks a capability or is not the target or pool', () => {
    expect(tierCutoff(slow, c, [peer({ ...fast, capabilities: [] })], NOW, GRACE)).toBeNull();
    expect(tierCutoff(slow, { ...c, targetAgent: 'slow' }, [peer(fast)], NOW, GRACE)).toBeNull();
    expect(tierCutoff(slow, { ...c, pool: 'p' }, [peer(fast)], NOW, GRACE)).toBeNull();
  });

  it('ignores the claimer itself, even with a higher tier in the peer list', () => {
    const claimer = { ...slow, tier: 5 };
    expect(tierCutoff(slow, c, [peer({ ...fast, id: slow.id })], NOW, GRACE)).toBeNull();
    expect(tierCutoff(claimer, c, [peer({ ...claimer, tier: 99 })], NOW, GRACE)).toBeNull();
  });

  it('is null when grace is 0 (or negative), even with an idle faster peer', () => {
    expect(tierCutoff(slow, c, [peer(fast)], NOW, 0)).toBeNull();
    expect(tierCutoff(slow, c, [peer(fast)], NOW, -1)).toBeNull();
  });

  it('finds one eligible peer among ineligible ones', () => {
    const peers = [
      peer({ ...fast, id: 'f1', state: 'draining' }),
      peer({ ...fast, id: 'f2', capabilities: [] }),
      peer({ ...fast, id: 'f3' }),
    ];
    expect(tierCutoff(slow, c, peers, NOW, GRACE)).toBe(NOW - GRACE);
  });
});
