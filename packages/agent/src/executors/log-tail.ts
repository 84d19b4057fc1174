import { open, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { LogRecordDecoder } from '../supervisor/job-files.js';
import type { OutputBatcher } from './output-batcher.js';
import { parseProgressLine } from './progress-line.js';

const READ_SIZE = 64 * 1024;
const NEWLINE = Buffer.from('\n');
/** Longer partial lines cannot be `::progress` lines; stop collecting them. */
const PROGRESS_LINE_MAX = 1024;

type Stream = 'stdout' | 'stderr';

/**
 * Follows a job's output.log (record format: supervisor/job-files.js) from `offset`: decodes
 * the records, passes the text to the batcher, and `::progress` lines to it as progress.
 * Reads happen when poked (fs.watch or the safety-net interval), at most once per `batchMs`,
 * each reading everything new — so a chatty job costs ~10 reads a second, not one per write.
 */
export class LogTail {
  private fh: FileHandle | undefined;
  private readonly decoder: LogRecordDecoder;
  private readonly text: Record<Stream, StringDecoder> = {
    stdout: new StringDecoder('utf8'),
    stderr: new StringDecoder('utf8'),
  };
  private readonly line: Record<Stream, string> = { stdout: '', stderr: '' };
  private chain: Promise<void> = Promise.resolve();
  private queued = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly file: string,
    offset: number,
    private readonly batcher: OutputBatcher,
    private readonly batchMs: number,
  ) {
    this.decoder = new LogRecordDecoder(offset);
  }

  /** The offset just after the last whole record read: where a later reader resumes. */
  get offset(): number {
    return this.decoder.offset - this.decoder.pending.length;
  }

  /** Something may have been written: read within `batchMs`. */
  poke(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.readNow();
    }, this.batchMs);
  }

  /** Reads everything written so far and emits it. Concurrent calls coalesce. */
  readNow(): Promise<void> {
    if (this.queued) return this.chain;
    this.queued = true;
    this.chain = this.chain.then(async () => {
      this.queued = false;
      await this.readToEof();
      this.batcher.flush();
    });
    return this.chain;
  }

  /**
   * Final read once the writer is done: everything is emitted before this resolves.
   * `endOffset`: the file's final size when the writer said so (the shared host's exit event);
   * when everything up to it was read already (a job with no output, or all of it read), the
   * file is not opened again — an open, read and close through the thread pool saved per job.
   */
  async drain(endOffset?: number): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (endOffset === undefined || this.decoder.offset < endOffset) await this.readNow();
    else await this.chain;
    this.closed = true;
    for (const s of ['stdout', 'stderr'] as const) {
      const rest = this.text[s].end();
      if (rest) this.batcher.write(s, rest, this.offset);
    }
    this.batcher.close();
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }

  private async readToEof(): Promise<void> {
    if (!this.fh) {
      try {
        this.fh = await open(this.file, 'r');
      } catch {
        return; // not created yet
      }
    }
    const buf = Buffer.allocUnsafe(READ_SIZE);
    for (;;) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.fh.read(buf, 0, READ_SIZE, this.decoder.offset));
      } catch (err) {
        process.emitWarning(`offload agent: reading ${this.file} failed: ${String(err)}`);
        return;
      }
      if (bytesRead === 0) return;
      for (const rec of this.decoder.push(Buffer.from(buf.subarray(0, bytesRead)))) {
        const dec = this.text[rec.stream];
        let text = dec.write(rec.payload);
        if (rec.lineEnd) text += dec.write(NEWLINE);
        this.batcher.write(rec.stream, text, rec.end);
        this.watchProgress(rec.stream, text, rec.lineEnd);
      }
      if (bytesRead < READ_SIZE) return;
    }
  }

  private watchProgress(stream: Stream, text: string, lineEnd: boolean): void {
    const sofar = this.line[stream];
    if (!lineEnd) {
      if (sofar.length <= PROGRESS_LINE_MAX) this.line[stream] = sofar + text;
      return;
    }
    this.line[stream] = '';
    const line = sofar.length <= PROGRESS_LINE_MAX ? sofar + text.slice(0, -1) : '';
    const progress = parseProgressLine(line);
    if (progress) this.batcher.setProgress(progress);
  }
}
