import type { OutputChunk, ProgressUpdate, RunCallbacks } from './job-outcome.js';

export const DEFAULT_BATCH_MS = 100;
export const DEFAULT_BATCH_BYTES = 64 * 1024;

export interface BatcherOptions extends RunCallbacks {
  batchMs?: number;
  batchBytes?: number;
}

/**
 * Collects output and progress and hands them on at most every `batchMs` or once `batchBytes`
 * of output are waiting (the agent protocol ships logs every ~100 ms or 64 KiB). Adjacent
 * writes to the same stream merge; the order across streams is kept. Of the progress updates
 * in one batch only the latest is passed on (the server keeps only the latest anyway).
 */
export class OutputBatcher {
  private readonly batchMs: number;
  private readonly batchBytes: number;
  private readonly chunks: OutputChunk[] = [];
  private pendingBytes = 0;
  private progress: ProgressUpdate | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: BatcherOptions) {
    this.batchMs = opts.batchMs ?? DEFAULT_BATCH_MS;
    this.batchBytes = opts.batchBytes ?? DEFAULT_BATCH_BYTES;
  }

  /** Queues output; flushes at once when the batch is full, else within `batchMs`. */
  write(stream: OutputChunk['stream'], data: string, offset?: number): void {
    if (this.closed || data.length === 0) return;
    // A huge write is cut so no chunk goes far over the batch size (a string of N UTF-16 units
    // is at most 3N UTF-8 bytes; the wire's limit per chunk is 1 MiB).
    for (let i = 0; i < data.length;) {
      let end = Math.min(data.length, i + this.batchBytes);
      const last = data.charCodeAt(end - 1);
      if (end < data.length && last >= 0xd800 && last <= 0xdbff) end--; // keep surrogate pairs whole
      this.append(stream, data.slice(i, end), end === data.length ? offset : undefined);
      i = end;
    }
    this.arm();
  }

  setProgress(progress: ProgressUpdate): void {
    if (this.closed) return;
    this.progress = progress;
    this.arm();
  }

  /** Emits everything waiting, output first, then the latest progress. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const chunks = this.chunks.splice(0);
    this.pendingBytes = 0;
    const progress = this.progress;
    this.progress = undefined;
    for (const c of chunks) safeCall(() => this.opts.onOutput?.(c));
    if (progress) safeCall(() => this.opts.onProgress?.(progress));
  }

  /** Flushes and stops accepting more. */
  close(): void {
    this.flush();
    this.closed = true;
  }

  private append(stream: OutputChunk['stream'], data: string, offset: number | undefined): void {
    const bytes = Buffer.byteLength(data);
    if (this.pendingBytes + bytes > this.batchBytes && this.chunks.length > 0) this.flush();
    const last = this.chunks.at(-1);
    if (last && last.stream === stream) {
      last.data += data;
      if (offset !== undefined) last.offset = offset;
    } else {
      this.chunks.push(offset === undefined ? { stream, data } : { stream, data, offset });
    }
    this.pendingBytes += bytes;
    if (this.pendingBytes >= this.batchBytes) this.flush();
  }

  private arm(): void {
    if (this.timer || this.closed) return;
    if (this.chunks.length === 0 && !this.progress) return;
    this.timer = setTimeout(() => this.flush(), this.batchMs);
  }
}

function safeCall(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    // A consumer's bug must not stop the job's output; say so once per failure.
    process.emitWarning(`offload agent: an output callback threw: ${String(err)}`);
  }
}
