import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '@offload/store';
import { makeJob, submit } from '@offload/store/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WalFlusher } from '../src/sqlite/sqlite-wal-flusher.js';

/** Descriptors of this process open on `file` (Linux: /proc/self/fd). */
function descriptorsOn(file: string): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) === file) n++;
    } catch {
      // Closed between the listing and the read (the listing's own descriptor).
    }
  }
  return n;
}

describe.runIf(process.platform === 'linux')('sqlite WAL flusher', () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'offload-wal-')));
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a store flushes its WAL through a descriptor of its own, which closes with the store', async () => {
    const file = path.join(dir, 'offload.db');
    const wal = `${file}-wal`;
    const store = await openSqliteStore({ path: file });
    // SQLite's own descriptor only: nothing has committed through the store yet.
    expect(descriptorsOn(wal)).toBe(1);
    await submit(store, makeJob());
    expect(descriptorsOn(wal)).toBe(2);
    await store.close();
    // The flush started by the commit may still be under way: its descriptor closes after it.
    await vi.waitFor(() => expect(descriptorsOn(wal)).toBe(0));
    expect(fs.existsSync(wal)).toBe(false);
  });

  it('an in-memory store has no WAL and no flusher', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    await submit(store, makeJob());
    expect(await store.jobsList({ limit: 10 })).toMatchObject({ jobs: [{ state: 'queued' }] });
    await store.close();
  });

  it('closing during a flush closes the descriptor when the flush returns', async () => {
    const file = path.join(dir, 'plain.db');
    fs.writeFileSync(`${file}-wal`, Buffer.alloc(64 * 1024, 1));
    const flusher = new WalFlusher(file);
    flusher.committed();
    expect(descriptorsOn(`${file}-wal`)).toBe(1);
    flusher.close();
    await vi.waitFor(() => expect(descriptorsOn(`${file}-wal`)).toBe(0));
    // Stopped: a later commit opens nothing again.
    flusher.committed();
    expect(descriptorsOn(`${file}-wal`)).toBe(0);
  });

  it('starts at most one flush per interval, and none while one is under way', async () => {
    const file = path.join(dir, 'plain.db');
    fs.writeFileSync(`${file}-wal`, 'x');
    const flusher = new WalFlusher(file, 60_000);
    const flushes = vi.spyOn(fs, 'fdatasync');
    flusher.committed();
    flusher.committed();
    await vi.waitFor(() => expect(flushes).toHaveBeenCalledTimes(1));
    await new Promise((r) => setTimeout(r, 20));
    flusher.committed();
    expect(flushes).toHaveBeenCalledTimes(1);
    flushes.mockRestore();
    flusher.close();
  });

  it('without a WAL file it stops quietly and opens nothing', () => {
    const flusher = new WalFlusher(path.join(dir, 'missing.db'));
    flusher.committed();
    flusher.committed();
    expect(fs.readdirSync(dir)).toEqual([]);
    flusher.close();
  });
});
