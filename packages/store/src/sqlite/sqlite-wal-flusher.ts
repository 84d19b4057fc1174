import fs from 'node:fs';
import { resolve } from 'node:path';

/**
 * At most one flush started per this many ms while commits come. 1,000 lone jobs after
 * 10,000 warm-up (AMD EPYC host, 2 cores, 3 runs each): every 1 ms p50 0.59–0.64 ms, p99
 * 1.46–1.61; every 5 ms p50 0.54–0.55, p99 1.47–1.61; every 20 ms p50 0.54–0.57, p99
 * 1.95–2.12; none p50 0.51–0.54, p99 2.87–3.83.
 */
export const WAL_FLUSH_INTERVAL_MS = 5;

/** After a flush failed, the next one waits this long. */
const FLUSH_PAUSE_AFTER_ERROR_MS = 10_000;

/**
 * Writes the WAL's new frames to disk in the background, so that the automatic checkpoint
 * — which runs inside whichever commit crosses the WAL's 1,000-page mark, and first fsyncs
 * the WAL — finds little left to write.
 *
 * With `synchronous = NORMAL` a commit does not sync: its frames sit in the page cache until
 * a checkpoint syncs the whole WAL (up to ~4 MiB) before copying its pages into the
 * database. That fsync was the lone job's tail: strace of the lone-job bench (AMD EPYC
 * host) timed it at 2.5–3.0 ms of each checkpoint's ~4, the database's own fsync at
 * 0.4–0.5. An `fdatasync` of the same file from libuv's thread pool (through a descriptor
 * of our own: any descriptor of a file flushes its pages) does that write off the event
 * loop; the checkpoint's fsync then covers only the frames written since the last flush
 * began (0.2 ms in the same trace). It changes no guarantee: commits stay exactly as durable
 * as `NORMAL` makes them, their frames only reach the disk sooner.
 */
export class WalFlusher {
  private readonly walPath: string;
  private fd: number | undefined;
  private inFlight = false;
  private lastStart = -Infinity;
  private stopped = false;

  /** @param dbPath the database file; its WAL is `<dbPath>-wal`, which WAL mode creates at open. */
  constructor(
    dbPath: string,
    private readonly intervalMs = WAL_FLUSH_INTERVAL_MS,
  ) {
    this.walPath = `${resolve(dbPath)}-wal`;
  }

  /** A transaction committed: starts a flush unless one runs or one began under intervalMs ago. */
  committed(): void {
    if (this.inFlight || this.stopped) return;
    const now = performance.now();
    if (now - this.lastStart < this.intervalMs) return;
    if (this.fd === undefined) {
      try {
        this.fd = fs.openSync(this.walPath, 'r');
      } catch {
        // No WAL to open (not in WAL mode after all): the checkpoint syncs on its own.
        this.stopped = true;
        return;
      }
    }
    this.lastStart = now;
    this.inFlight = true;
    fs.fdatasync(this.fd, (err) => {
      this.inFlight = false;
      // A failed flush (a full disk) pauses flushing for a while. It hides nothing from
      // SQLite: Linux reports a writeback error to every descriptor of the file that has
      // not seen it, so the checkpoint's own fsync still fails and SQLite handles it.
      if (err) this.lastStart = performance.now() + FLUSH_PAUSE_AFTER_ERROR_MS;
      if (this.stopped) this.closeFd();
    });
  }

  /** Stops flushing; the descriptor closes now, or when the flush under way returns. */
  close(): void {
    this.stopped = true;
    if (!this.inFlight) this.closeFd();
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
