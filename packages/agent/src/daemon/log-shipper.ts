import type { LogReport } from '@offload/protocol';
import type { ProgressUpdate } from '../executors/job-outcome.js';
import type { Connection } from './connection.js';
import { isTransient } from './connection.js';

type LogEntry = NonNullable<LogReport['logs']>[number];
type ProgressEntry = NonNullable<LogReport['progress']>[number];

const BATCH_MS = 100;
const BATCH_BYTES = 64 * 1024;
const RETRY_MS = 500;

/**
 * Ships output and progress of every running job to `reportLogs`, batched across jobs (sent
 * ~100 ms after the first waiting item, or at once past 64 KiB), one request at a time so
 * the order per job holds. A lease the server calls stale is dropped and reported to
 * `onStale` (its job is killed: nothing more of it is wanted).
 */
export class LogShipper {
  private logs: LogEntry[] = [];
  private acks: Array<() => void> = [];
  private progressByLease = new Map<string, ProgressEntry>();
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private readonly stale = new Set<string>();
  /** Entries (log chunks, progress) per lease that are queued or being sent. */
  private readonly unshipped = new Map<string, number>();

  constructor(
    private readonly conn: Connection,
    private readonly onStale: (leaseId: string) => void,
  ) {}

  /** `shipped` runs once the chunk was accepted (the daemon persists the log offset then). */
  output(
    jobId: string,
    leaseId: string,
    stream: 'stdout' | 'stderr',
    data: string,
    shipped?: () => void,
  ): void {
    if (this.stale.has(leaseId)) return;
    this.logs.push({ jobId, leaseId, stream, data });
    this.count(leaseId, 1);
    if (shipped) this.acks.push(shipped);
    this.bytes += Buffer.byteLength(data);
    this.arm();
  }

  progress(jobId: string, leaseId: string, p: ProgressUpdate): void {
    if (this.stale.has(leaseId)) return;
    if (!this.progressByLease.has(leaseId)) this.count(leaseId, 1);
    this.progressByLease.set(leaseId, { jobId, leaseId, ...p });
    this.arm();
  }

  /**
   * Whether output or progress of this lease is still to be accepted by the server: its
   * completion must wait (after the completion the lease is over and more output is refused).
   */
  waiting(leaseId: string): boolean {
    return this.unshipped.has(leaseId);
  }

  async flushAll(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.sending = this.sending.then(() => this.send());
    await this.sending;
  }

  forget(leaseId: string): void {
    this.stale.delete(leaseId);
  }

  private count(leaseId: string, delta: number): void {
    const n = (this.unshipped.get(leaseId) ?? 0) + delta;
    if (n > 0) this.unshipped.set(leaseId, n);
    else this.unshipped.delete(leaseId);
  }

  private arm(): void {
    if (this.bytes >= BATCH_BYTES) {
      void this.flushAll();
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flushAll(), BATCH_MS);
  }

  private async send(): Promise<void> {
    while (this.logs.length > 0 || this.progressByLease.size > 0) {
      const logs: LogEntry[] = [];
      let bytes = 0;
      while (this.logs.length > 0 && (logs.length === 0 || bytes < BATCH_BYTES)) {
        const e = this.logs.shift()!;
        bytes += Buffer.byteLength(e.data);
        logs.push(e);
      }
      const acks = this.logs.length === 0 ? this.acks.splice(0) : [];
      this.bytes = Math.max(0, this.bytes - bytes);
      const progress = this.logs.length === 0 ? [...this.progressByLease.values()] : [];
      if (this.logs.length === 0) this.progressByLease.clear();
      const body: LogReport = {
        ...(logs.length > 0 && { logs: logs.filter((l) => !this.stale.has(l.leaseId)) }),
        ...(progress.length > 0 && {
          progress: progress.filter((p) => !this.stale.has(p.leaseId)),
        }),
      };
      let shipped = true;
      try {
        const res = await this.conn.once((c) => c.reportLogs(body));
        for (const lease of res.stale) {
          if (this.stale.has(lease)) continue;
          this.stale.add(lease);
          this.onStale(lease);
        }
        for (const a of acks) a();
      } catch (err) {
        if (isTransient(err) && !this.conn.closed) {
          // The server is away: keep the batch, in order, and try again later (the sync
          // loop also flushes before it hands in completions, so output goes first).
          this.logs.unshift(...logs);
          this.acks.unshift(...acks);
          this.bytes += bytes;
          for (const p of progress)
            if (!this.progressByLease.has(p.leaseId)) this.progressByLease.set(p.leaseId, p);
          if (!this.timer) this.timer = setTimeout(() => void this.flushAll(), RETRY_MS);
          shipped = false;
          return;
        }
        // A refused batch (validation) is dropped rather than block every later one.
        if (!this.conn.closed) process.emitWarning(`offload agent: output dropped: ${String(err)}`);
      } finally {
        // Accepted, or dropped for good: either way nothing of these is waiting any more.
        if (shipped) for (const e of [...logs, ...progress]) this.count(e.leaseId, -1);
      }
    }
  }
}
