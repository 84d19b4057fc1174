import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentState, readRunningRecords, type RunningRecord } from '../src/daemon/agent-state.js';

const record = (jobId: string, logOffset = 0): RunningRecord => ({
  jobId,
  leaseId: `lease-${jobId}`,
  attempt: 1,
  jobDir: `/state/jobs/${jobId}-1`,
  cpu: 1,
  memoryMb: 0,
  gpus: [],
  logOffset,
});

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('running records (restart recovery)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'offload-state-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a record is on disk when putRunning returns: an agent killed next still finds it', () => {
    const state = new AgentState(dir);
    state.init();
    state.putRunning(record('a'));
    // No turn of the event loop, no close(): what a kill -9 right now would leave.
    expect(readRunningRecords(dir).map((r) => r.jobId)).toEqual(['a']);
  });

  it('keeps the newest log offset and forgets ended attempts, across a reopen', async () => {
    const state = new AgentState(dir);
    state.init();
    state.putRunning(record('a'));
    state.putRunning(record('b'));
    state.updateRunning(record('a', 4096));
    state.deleteRunning(record('b'));
    await nextTurn();
    expect(readRunningRecords(dir)).toEqual([record('a', 4096)]);
    const again = new AgentState(dir);
    again.init();
    expect(again.running()).toEqual([record('a', 4096)]);
    again.close();
  });

  it('ignores a torn last line (the agent killed mid-write)', () => {
    const state = new AgentState(dir);
    state.init();
    state.putRunning(record('a'));
    appendFileSync(join(dir, 'running.jsonl'), '{"put":{"jobId":"b","lea');
    const again = new AgentState(dir);
    again.init();
    expect(again.running().map((r) => r.jobId)).toEqual(['a']);
    // Compacted at open: a line appended now is not glued to the torn one.
    again.putRunning(record('c'));
    expect(readRunningRecords(dir).map((r) => r.jobId)).toEqual(['a', 'c']);
    again.close();
  });

  it('adopts the file-per-record running/ directory of earlier versions, then removes it', () => {
    mkdirSync(join(dir, 'running'));
    writeFileSync(join(dir, 'running', 'old-lease-old.json'), JSON.stringify(record('old')));
    writeFileSync(join(dir, 'running', 'torn-lease-torn.json'), '{"jobId":');
    const state = new AgentState(dir);
    state.init();
    expect(state.running()).toEqual([record('old')]);
    expect(readRunningRecords(dir)).toEqual([record('old')]);
    expect(existsSync(join(dir, 'running'))).toBe(false);
    state.close();
  });
});
