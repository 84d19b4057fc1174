import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Completion } from '@offload/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Outbox, readOutbox } from '../src/daemon/outbox.js';

const done = (jobId: string, leaseId = `lease-${jobId}`): Completion => ({
  jobId,
  leaseId,
  outcome: 'succeeded',
  exitCode: 0,
});

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('outbox journal', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'offload-outbox-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps unacknowledged completions across a reopen, oldest first', async () => {
    const box = new Outbox(dir);
    box.open();
    box.put(done('a'));
    box.put(done('b'));
    box.put(done('c'));
    box.ack([done('b')]);
    // No close(): a killed agent never closes it. The lines of a turn are written by the
    // end of that turn of the event loop (and always before list() hands them out).
    await nextTurn();
    expect(readOutbox(dir).map((c) => c.jobId)).toEqual(['a', 'c']);
    const again = new Outbox(dir);
    again.open();
    expect(again.list().map((c) => c.jobId)).toEqual(['a', 'c']);
    expect(again.size).toBe(2);
    again.close();
  });

  it('ignores a torn last line (a crash mid-write)', async () => {
    const box = new Outbox(dir);
    box.open();
    box.put(done('a'));
    box.close();
    appendFileSync(join(dir, 'outbox.jsonl'), '{"put":{"jobId":"b","lea');
    const again = new Outbox(dir);
    again.open();
    expect(again.list().map((c) => c.jobId)).toEqual(['a']);
    again.put(done('c'));
    await nextTurn();
    expect(readOutbox(dir).map((c) => c.jobId)).toEqual(['a', 'c']);
    again.close();
  });

  it('list() leaves out the keys being sent and honours the limit', () => {
    const box = new Outbox(dir);
    box.open();
    for (const id of ['a', 'b', 'c', 'd']) box.put(done(id));
    // list() writes first: what goes to the server is on disk.
    expect(box.list(2).map((c) => c.jobId)).toEqual(['a', 'b']);
    expect(box.list(2, new Set([`a\nlease-a`])).map((c) => c.jobId)).toEqual(['b', 'c']);
    expect(readOutbox(dir)).toHaveLength(4);
    box.close();
  });

  it('compacts the journal once most of it is acknowledged', async () => {
    const box = new Outbox(dir);
    box.open();
    for (let i = 0; i < 6_000; i++) {
      box.put(done(`j${i}`));
      box.ack([done(`j${i}`)]);
    }
    box.put(done('last'));
    await nextTurn();
    const lines = readFileSync(join(dir, 'outbox.jsonl'), 'utf8').trim().split('\n');
    expect(lines.length).toBeLessThan(3_000);
    expect(readOutbox(dir).map((c) => c.jobId)).toEqual(['last']);
    box.close();
  });

  it('imports the per-file outbox of earlier versions, then removes it', () => {
    mkdirSync(join(dir, 'outbox'));
    writeFileSync(join(dir, 'outbox', 'old-lease-old.json'), JSON.stringify(done('old')));
    const box = new Outbox(dir);
    box.open();
    expect(box.list().map((c) => c.jobId)).toEqual(['old']);
    expect(readOutbox(dir).map((c) => c.jobId)).toEqual(['old']);
    box.close();
  });
});
