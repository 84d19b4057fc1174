import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Completion } from '@offload/protocol';
import { KeyedJournal, keyOf, readJournal, type JournalKey } from './keyed-journal.js';

const FILE = 'outbox.jsonl';
/** The removal tag of the outbox's journal: the server acknowledged these. */
const ACK = 'ack';

/**
 * Finished attempts the server has not acknowledged yet, kept across agent restarts in the
 * journal `outbox.jsonl` (KeyedJournal: a `{"put":…}` line per completion, an
 * `{"ack":[[jobId, leaseId], …]}` line per acknowledged batch). Everything `list()` hands out
 * to be sent is on disk first: a report never reaches the server before it would survive the
 * agent's crash, the case the outbox exists for.
 */
export class Outbox {
  private readonly journal: KeyedJournal<Completion>;

  constructor(private readonly dir: string) {
    this.journal = new KeyedJournal(join(dir, FILE), ACK);
  }

  /** Loads the journal (and the per-file outbox of earlier versions), then compacts it. */
  open(): void {
    const legacy = join(this.dir, 'outbox');
    const legacyFiles = existsSync(legacy)
      ? readdirSync(legacy).filter((n) => n.endsWith('.json'))
      : [];
    const older: Completion[] = [];
    for (const name of legacyFiles.sort()) {
      try {
        const c = JSON.parse(readFileSync(join(legacy, name), 'utf8')) as Completion;
        if (typeof c.jobId === 'string' && typeof c.leaseId === 'string') older.push(c);
      } catch {
        // torn or foreign: it was never acknowledged, but it cannot be read either
      }
    }
    this.journal.open(older);
    if (legacyFiles.length > 0) rmSync(legacy, { recursive: true, force: true });
  }

  close(): void {
    this.journal.close();
  }

  /** Records a completion before it is sent. A second put for the same lease replaces it. */
  put(c: Completion): void {
    this.journal.put(c);
  }

  /** Forgets completions the server is done with (acknowledged, or refused as stale). */
  ack(done: readonly JournalKey[]): void {
    this.journal.remove(done);
  }

  has(c: JournalKey): boolean {
    return this.journal.has(c);
  }

  get size(): number {
    return this.journal.size;
  }

  /** Writes the completions recorded in this turn now. Throws when the disk does. */
  flush(): void {
    this.journal.flush();
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
    this.journal.flush();
    const out: Completion[] = [];
    for (const c of this.journal.values()) {
      if (out.length >= limit) break;
      if (!skip?.has(keyOf(c)) && (!ready || ready(c))) out.push(c);
    }
    return out;
  }
}

/** The pending completions in a state directory's journal, without changing it (read-only). */
export function readOutbox(dir: string): Completion[] {
  return readJournal<Completion>(join(dir, FILE), ACK);
}
