import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { systemClock, type AgentRecord } from '@offload/core';
import { openSqliteStore, type Store } from '@offload/store';
import { makeAgent } from '@offload/store/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/services/dispatcher.js';

/**
 * The dispatcher's agent records against reads that overlap a change made on this server.
 * On PostgreSQL an agent read is a round trip, and another server's change (heard from the
 * change feed) is read back while this server may be draining the same agent; here the
 * store's answer to agentGet is read at once and handed over when the test lets it go.
 */
let dir: string;
let store: Store;
let held: Promise<void> | null;
let release: (() => void) | null;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'offload-agent-reads-'));
  const real = await openSqliteStore({ path: path.join(dir, 'offload.db') });
  held = null;
  release = null;
  store = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop !== 'agentGet') return Reflect.get(target, prop, receiver);
      return async (p: { id: string }) => {
        const answer = await target.agentGet(p);
        if (held) await held;
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

const AGENT: AgentRecord = makeAgent({ id: 'agt_reads', maxJobs: 4 });

describe('dispatcher agent records', () => {
  it('a drain here while another server’s change is read back is not undone by that read', async () => {
    const dispatcher = new Dispatcher(store, systemClock, { tierGraceMs: 0 });
    await dispatcher.init();
    await store.agentUpsert({ agent: AGENT });
    dispatcher.agentChanged(AGENT);

    held = new Promise<void>((r) => (release = r));
    const reading = dispatcher.agentsChangedElsewhere([AGENT.id]); // reads "online"
    const drained: AgentRecord = { ...AGENT, state: 'draining' };
    await store.agentUpsert({ agent: drained });
    dispatcher.agentChanged(drained);
    held = null;
    release!();
    const read = await reading;

    expect(read.map((a) => a.state)).toEqual(['online']); // what the read saw, for its events
    expect((await dispatcher.agent(AGENT.id))?.state).toBe('draining');
  });

  it('takes another server’s change when nothing here overlapped the read', async () => {
    const dispatcher = new Dispatcher(store, systemClock, { tierGraceMs: 0 });
    await dispatcher.init();
    await store.agentUpsert({ agent: AGENT });
    dispatcher.agentChanged(AGENT);

    await store.agentUpsert({ agent: { ...AGENT, state: 'draining' } }); // as another server
    await dispatcher.agentsChangedElsewhere([AGENT.id]);
    expect((await dispatcher.agent(AGENT.id))?.state).toBe('draining');
  });
});
