import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { OutputBatcher, parseProgressLine } from '../src/index.js';
import { LogRecordDecoder, encodeLogRecords } from '../src/supervisor/job-files.js';
import { parseProcStat } from '../src/supervisor/proc.js';

describe('output.log records', () => {
  it('round-trips any bytes of both streams, however the file is read', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('stdout', 'stderr'), fc.uint8Array({ maxLength: 40 }))),
        fc.integer({ min: 1, max: 17 }),
        (writes, readSize) => {
          const file = Buffer.concat(
            writes.map(([s, b]) => encodeLogRecords(s as 'stdout', Buffer.from(b))),
          );
          const dec = new LogRecordDecoder();
          const got = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
          for (let i = 0; i < file.length; i += readSize)
            for (const r of dec.push(file.subarray(i, i + readSize))) {
              got[r.stream].push(r.payload, Buffer.from(r.lineEnd ? '\n' : ''));
            }
          for (const s of ['stdout', 'stderr'] as const) {
            const want = Buffer.concat(
              writes.filter(([w]) => w === s).map(([, b]) => Buffer.from(b)),
            );
            expect(Buffer.concat(got[s]).equals(want)).toBe(true);
          }
          expect(dec.pending.length).toBe(0);
        },
      ),
    );
  });

  it('is readable text', () => {
    expect(encodeLogRecords('stderr', Buffer.from('a\n\nb')).toString()).toBe('E a\nE \ne b\n');
  });
});

describe('::progress lines', () => {
  it.each([
    ['::progress 40 encoding', { percent: 40, stage: 'encoding' }],
    ['::progress 12.5', { percent: 12.5 }],
    ['::progress 100 pass 2 of 3\r', { percent: 100, stage: 'pass 2 of 3' }],
    ['::progress 101', undefined],
    ['::progress', undefined],
    ['::progressive 4', undefined],
    [' ::progress 4', undefined],
    ['frame 12', undefined],
  ])('%j', (line, want) => {
    expect(parseProgressLine(line)).toEqual(want);
  });
});

describe('OutputBatcher', () => {
  it('flushes after batchMs, merges a stream, keeps order across streams', () => {
    vi.useFakeTimers();
    try {
      const out: string[] = [];
      const b = new OutputBatcher({
        batchMs: 100,
        onOutput: (c) => out.push(`${c.stream}:${c.data}`),
        onProgress: (p) => out.push(`progress:${p.percent}`),
      });
      b.write('stdout', 'a');
      b.write('stdout', 'b');
      b.setProgress({ percent: 1 });
      b.write('stderr', 'c');
      b.setProgress({ percent: 2 });
      vi.advanceTimersByTime(99);
      expect(out).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(out).toEqual(['stdout:ab', 'stderr:c', 'progress:2']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('flushes at once when 64 KiB wait, and cuts huge writes', () => {
    const sizes: number[] = [];
    const b = new OutputBatcher({ batchBytes: 1024, onOutput: (c) => sizes.push(c.data.length) });
    b.write('stdout', 'x'.repeat(2500));
    expect(sizes).toEqual([1024, 1024]);
    b.close();
    expect(sizes).toEqual([1024, 1024, 452]);
  });
});

describe('/proc/<pid>/stat', () => {
  it('parses a command name holding spaces and parentheses', () => {
    const s = parseProcStat(
      '42 (my (odd) name) S 1 42 42 0 -1 4194560 0 0 0 0 7 3 2 1 20 5 1 0 123456 1000 250 18446744073709551615',
    );
    expect(s).toMatchObject({
      pid: 42,
      comm: 'my (odd) name',
      state: 'S',
      pgrp: 42,
      session: 42,
      utime: 7,
      stime: 3,
      cutime: 2,
      cstime: 1,
      nice: 5,
      startTime: 123456,
      rssPages: 250,
    });
  });
});
