import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Completion } from '@offload/protocol';

type Key = Pick<Completion, 'jobId' | 'leaseId'>;
type Line = { put: Completion } | { ack: Array<[string, string]> };

/** Rewrite the journal once this many lines were appended and most entries are acknowledged. */
const COMPACT_AFTER_LINES = 10_000;

/**
 * Finished attempts the server has not acknowledged yet, kept across agent restarts in
 * one append-only journal, `outbox.jsonl`: a `{"put":…}` line per completion and an
 * `{"ack":[[jobId, leaseId], …]}` line per acknowledged batch. Replayed and compacted at open;
 * a torn last line (a crash mid-write) is ignored.
 *
 * Why a journal and not a file per completion: at 20,000 no-op tasks/s the agent spent most of
 * its time creating, fsyncing, listing and deleting small files (767 jobs/s on the 2-core dev
 * VM). The lines of one turn of the event loop go in one write(2) into the page cache at
 * the end of that turn, and always before list() hands them out to be sent: a report never
 * reaches the server before it is on disk, and what is on disk survives the agent's own crash
 * (kill -9), the case the outbox exists for. It is not fsynced: after a machine crash the
 * job's processes are gone too, and the server's lease timeout retries the attempt anyway.
 */
export class Outbox {
  private readonly file: string;
  private readonly pending = new Map<string, Completion>();
  private fd = -1;
  private appended = 0;
  /** Lines not yet written: one write(2) per batch, done before anything is listed for sending. */
  private buffered: string[] = [];

  constructor(private readonly dir: string) {
    this.file = join(dir, 'outbox.jsonl');
  }

  /** Loads the journal (and the per-file outbox of earlier versions), then compacts it. */
  open(): void {
    if (this.fd >= 0) return;
    for (const c of readOutbox(this.dir)) this.pending.set(keyOf(c), c);
    const legacy = join(this.dir, 'outbox');
    const legacyFiles = existsSync(legacy)
      ? readdirSync(legacy).filter((n) => n.endsWith('.json'))
      : [];
    for (const name of legacyFiles.sort()) {
      try {
        const c = JSON.parse(readFileSync(join(legacy, name), 'utf8')) as Completion;
        if (typeof c.jobId === 'string' && typeof c.leaseId === 'string')
          this.pending.set(keyOf(c), c);
      } catch {
        // torn or foreign: it was never acknowledged, but it cannot be read either
      }
    }
    this.compact();
    if (legacyFiles.length > 0) rmSync(legacy, { recursive: true, force: true });
  }

  close(): void {
    if (this.fd >= 0) {
      this.flush();
      closeSync(this.fd);
    }
    this.fd = -1;
  }

  /** Records a completion before it is sent. A second put for the same lease replaces it. */
  put(c: Completion): void {
    this.pending.set(keyOf(c), c);
    this.append({ put: c });
  }

  /** Forgets completions the server is done with (acknowledged, or refused as stale). */
  ack(done: readonly Key[]): void {
    const gone: Array<[string, string]> = [];
    for (const c of done) if (this.pending.delete(keyOf(c))) gone.push([c.jobId, c.leaseId]);
    if (gone.length === 0) return;
    this.append({ ack: gone });
    if (this.appended >= COMPACT_AFTER_LINES && this.pending.size * 4 < this.appended)
      this.compact();
  }

  has(c: Key): boolean {
    return this.pending.has(keyOf(c));
  }

  get size(): number {
    return this.pending.size;
  }

  /**
   * Oldest first, up to `limit`, leaving out the keys in `skip` and those `ready` refuses.
   * Everything listed is on disk.
   */
  list(
    limit = Infinity,
    skip?: ReadonlySet<string>,
    ready?: (c: Completion) => boolean,
  ): Completion[] {
    this.flush();
    const out: Completion[] = [];
    for (const [key, c] of this.pending) {
      if (out.length >= limit) break;
      if (!skip?.has(key) && (!ready || ready(c))) out.push(c);
    }
    return out;
  }

  private append(line: Line): void {
    if (this.fd < 0) throw new Error('the outbox is not open');
    // One write per turn of the event loop for all that ended in it (a write per job was 8 %
    // of the agent's CPU at 5,000 tasks/s). Not a microtask: the jobs of a batch end in
    // microtasks of their own, interleaved with it, and then it wrote a line at a time
    // (writeSync 9 % of the agent's CPU at ~10,000 tasks/s).
    if (this.buffered.length === 0) setImmediate(() => this.flushQuietly());
    this.buffered.push(`${JSON.stringify(line)}\n`);
    this.appended++;
  }

  /** Writes the buffered lines. Throws when the disk does (the caller logs it). */
  flush(): void {
    if (this.buffered.length === 0 || this.fd < 0) return;
    writeSync(this.fd, this.buffered.join(''));
    this.buffered = [];
  }

  private flushQuietly(): void {
    try {
      this.flush();
    } catch {
      // Kept buffered: the next list() writes them or throws to a caller that reports it.
    }
  }

  /** Rewrites the journal with the pending entries only (temp file, then rename). */
  private compact(): void {
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      const text = [...this.pending.values()].map((c) => `${JSON.stringify({ put: c })}\n`);
      if (text.length > 0) writeSync(fd, text.join(''));
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    this.buffered = []; // already in the rewritten file
    this.close();
    this.fd = openSync(this.file, 'a', 0o600);
    this.appended = 0;
  }
}

/** The key of an outbox entry (also what the daemon marks as being sent). */
export const keyOf = (c: Key): string => `${c.jobId}\n${c.leaseId}`;

/** The pending completions in a state directory's journal, without changing it (read-only). */
export function readOutbox(dir: string): Completion[] {
  let text = '';
  try {
    text = readFileSync(join(dir, 'outbox.jsonl'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const pending = new Map<string, Completion>();
  for (const raw of text.split('\n')) {
    const line = parseLine(raw);
    if (!line) continue;
    if ('put' in line) pending.set(keyOf(line.put), line.put);
    else for (const [jobId, leaseId] of line.ack) pending.delete(keyOf({ jobId, leaseId }));
  }
  return [...pending.values()];
}

function parseLine(raw: string): Line | undefined {
  if (!raw.trim()) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<{ put: Completion; ack: Array<[string, string]> }>;
    if (v.put && typeof v.put.jobId === 'string' && typeof v.put.leaseId === 'string')
      return { put: v.put };
    if (Array.isArray(v.ack)) return { ack: v.ack };
  } catch {
    // a torn last line
  }
  return undefined;
}
