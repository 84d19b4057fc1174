import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createJobRecord, createManualClock, systemClock, type AgentRecord } from '@offload/core';
import { openSqliteStore, type Store } from '@offload/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/services/dispatcher.js';

/**
 * A wake-up that comes while a claim is looking at the store — after its read found nothing,
 * before it parks — must not be lost. On PostgreSQL that window is a round trip; here the
 * store's answer to "which classes have queued jobs" is held back until the test lets it go,
 * so the window is as wide as the test needs.
 */
let dir: string;
let store: Store;
let release: (() => void) | null;
let held: Promise<void> | null;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'offload-dispatcher-'));
  const real = await openSqliteStore({ path: path.join(dir, 'offload.db') });
  held = null;
  store = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop !== 'classesWithQueued') return Reflect.get(target, prop, receiver);
      return async () => {
        const answer = await target.classesWithQueued();
        if (held) await held; // read before the submit below, answered after it
        return answer;
      };
    },
  });
});

afterEach(async () => {
  release?.();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The next classesWithQueued answer waits; resolves once it has been read. */
function holdNextAnswer(): void {
  held = new Promise<void>((r) => (release = r));
}

async function onlineAgent(dispatcher: Dispatcher): Promise<AgentRecord> {
  const agent: AgentRecord = {
    id: 'agt_wake',
    name: 'wake',
    state: 'online',
    capabilities: [],
    tier: 0,
    pools: [],
    maxJobs: 4,
    resources: { cpu: 4, memoryMb: 4096, gpus: [] },
    hostname: null,
    os: null,
    arch: null,
    version: null,
    lastSeenAt: Date.now(),
    createdAt: Date.now(),
  };
  await store.agentUpsert({ agent });
  dispatcher.agentChanged(agent);
  return agent;
}

/**
 * A dispatcher, an online agent and one class whose only job it has taken: a claim then
 * asks the store which classes have work (the answer holdNextAnswer can hold back).
 */
async function aClassWithNothingQueued(): Promise<{ dispatcher: Dispatcher; agent: AgentRecord }> {
  const dispatcher = new Dispatcher(store, systemClock, { tierGraceMs: 0 });
  await dispatcher.init();
  const agent = await onlineAgent(dispatcher);
  await store.jobsSubmit({
    jobs: [createJobRecord({ command: ['true'] }, { id: 'job_first', now: Date.now() })],
  });
  dispatcher.classesMayHaveChanged();
  const taken = await store.jobsClaim({
    agent,
    max: 1,
    classes: [{ classId: 1, queuedBefore: null }],
    now: Date.now(),
  });
  expect(taken.map((c) => c.job.id)).toEqual(['job_first']);
  return { dispatcher, agent };
}

describe('dispatcher wake-ups', () => {
  it('a job queued while a claim looks is claimed, not slept through', async () => {
    const { dispatcher, agent } = await aClassWithNothingQueued();
    holdNextAnswer();
    const claim = dispatcher.claim(agent, 1, 3_000);
    await new Promise((r) => setTimeout(r, 50)); // the claim has read: nothing queued
    const [late] = await store.jobsSubmit({
      jobs: [createJobRecord({ command: ['true'] }, { id: 'job_late', now: Date.now() })],
    });
    expect(dispatcher.parkedCount).toBe(0); // still looking
    dispatcher.jobsChanged([late!.job]); // the wake-up
    release!();
    const { jobs, reason } = await claim;
    expect(reason).toBe('work');
    expect(jobs.map((j) => j.job.id)).toEqual(['job_late']);
  });

  it('a poke (a cancel or drain to deliver) while a claim looks ends the claim at once', async () => {
    const { dispatcher, agent } = await aClassWithNothingQueued();
    holdNextAnswer();
    const claim = dispatcher.claim(agent, 1, 3_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(dispatcher.parkedCount).toBe(0); // still looking
    dispatcher.poke(agent.id);
    release!();
    expect(await claim).toEqual({ jobs: [], reason: 'poke' });
  });

  it('a poke between reading what to deliver and claiming ends the claim at once', async () => {
    const dispatcher = new Dispatcher(store, systemClock, { tierGraceMs: 0 });
    await dispatcher.init();
    const agent = await onlineAgent(dispatcher);
    const mark = dispatcher.pokeMark(agent.id); // the sync handler, before leasesToCancel
    dispatcher.poke(agent.id); // a cancel requested after that read
    expect(await dispatcher.claim(agent, 1, 3_000, undefined, mark)).toEqual({
      jobs: [],
      reason: 'poke',
    });
  });

  it('forgets old pokes, and never gives a later poke the number of a mark still held', async () => {
    const clock = createManualClock();
    const dispatcher = new Dispatcher(store, clock, { tierGraceMs: 0 });
    await dispatcher.init();
    const agent = await onlineAgent(dispatcher);
    dispatcher.poke(agent.id);
    const held = dispatcher.pokeMark(agent.id); // a sync that took its mark, then stalled
    expect(held).toBeGreaterThan(0);
    clock.advance(11 * 60_000);
    dispatcher.poke('agent_other'); // a poke drops the records older than ten minutes
    expect(dispatcher.pokeMark(agent.id)).toBe(0);
    expect(dispatcher.pokeMark('agent_other')).toBeGreaterThan(0);
    // The stalled sync's claim sees its mark changed: it returns at once (a spare sync).
    expect(await dispatcher.claim(agent, 1, 3_000, undefined, held)).toEqual({
      jobs: [],
      reason: 'poke',
    });
    // Poked again after the drop: a new number, not the one the stalled sync holds.
    dispatcher.poke(agent.id);
    expect(dispatcher.pokeMark(agent.id)).toBeGreaterThan(held);
  });
});
