import type { Offload } from '@offload/client';
import type { Job } from '@offload/protocol';
import type { CliIo } from './cli-io.js';

/**
 * The live status line of the waiting commands (`offload run`, `offload wait`): one line on
 * stderr, repainted in place with `\r` + erase-line, e.g.
 *
 *   ⠋ queued · 3s · waiting for an agent with gpu
 *   ⠙ running on gpu-box-1 · 42% render · 12s
 *
 * Only on a terminal: piped stderr, `--quiet` and `TERM=dumb` (no erase-line there) get none;
 * `NO_COLOR` keeps the line but drops the colour. It never shares the screen with a job's output:
 * the caller stops it before writing any (see `offload run`).
 */

const ERASE_LINE = '\r\x1b[K';
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CYAN = '\x1b[36m';
const RESET = '\x1b[39m';

/** Whether a waiting command shows the status line: stderr is a terminal that can erase a line. */
export function statusLineWanted(io: CliIo, quiet = false): boolean {
  return !quiet && io.stderrIsTTY === true && io.env.TERM !== 'dumb';
}

/** https://no-color.org: `NO_COLOR` set and not empty turns colour off; so does `TERM=dumb`. */
export function colorWanted(env: NodeJS.ProcessEnv): boolean {
  return !env.NO_COLOR && env.TERM !== 'dumb';
}

/** `3s`, `1m05s`, `2h07m`. */
export function formatElapsed(ms: number): string {
  const sec = Math.max(0, Math.floor(ms / 1000));
  if (sec < 60) return `${sec}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m${String(sec % 60).padStart(2, '0')}s`;
  return `${Math.floor(sec / 3600)}h${String(Math.floor(sec / 60) % 60).padStart(2, '0')}m`;
}

/** What a queued job waits for, in the words of its requirements. */
function waitingFor(job: Job): string {
  if (job.targetAgent !== undefined) return `waiting for agent ${job.targetAgent}`;
  const r = job.requires;
  const needs = [
    ...r.capabilities,
    ...(r.gpus > 0 ? [`${r.gpus} GPU${r.gpus === 1 ? '' : 's'}`] : []),
    ...(r.cpu > 1 ? [`${r.cpu} CPUs`] : []),
    ...(r.memoryMb > 0 ? [`${r.memoryMb} MB`] : []),
  ];
  return (
    'waiting for an agent' +
    (needs.length > 0 ? ` with ${needs.join(', ')}` : '') +
    (job.pool !== undefined ? ` in pool ${job.pool}` : '')
  );
}

/**
 * The text of the status line, without spinner or colour: state (and agent), progress,
 * elapsed (since the command began waiting, on the local clock), and what the job waits for.
 */
export function describeJob(job: Job, elapsedMs: number, now = Date.now()): string {
  const elapsed = formatElapsed(elapsedMs);
  const attempt = job.attempt > 1 ? ` (attempt ${job.attempt} of ${job.maxAttempts})` : '';
  if (job.cancelRequested && job.state === 'running')
    return `canceling on ${job.agent?.name ?? 'its agent'} · ${elapsed}`;
  switch (job.state) {
    case 'scheduled': {
      const inMs = job.runAt === undefined ? 0 : Date.parse(job.runAt) - now;
      return `scheduled · ${elapsed} · ${inMs > 1000 ? `starts in ${formatElapsed(inMs)}` : 'starting'}`;
    }
    case 'queued':
      return `queued${attempt} · ${elapsed} · ${waitingFor(job)}`;
    case 'running': {
      const p = job.progress;
      const progress = [
        p?.percent !== undefined ? `${Math.round(p.percent)}%` : '',
        p?.stage ?? '',
        p?.message ?? '',
      ]
        .filter(Boolean)
        .join(' ');
      const on = job.agent ? ` on ${job.agent.name}` : '';
      return [`running${on}${attempt}`, ...(progress ? [progress] : []), elapsed].join(' · ');
    }
    default:
      return `${job.state} · ${elapsed}`;
  }
}

export interface StatusLineOptions {
  write: (text: string) => void;
  color: boolean;
  /** The terminal's width now (it may change); 0 or undefined means unknown: 80. */
  columns?: (() => number | undefined) | undefined;
  /** No line for jobs that end (or print) sooner than this: an instant job shows no flicker. */
  delayMs?: number;
  frameMs?: number;
}

/** The repainted line itself; `update()` feeds it the job as it changes. */
export class StatusLine {
  private job: Job | undefined;
  private shown = false;
  private stopped = false;
  private frame = 0;
  private readonly startedAt = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: StatusLineOptions) {
    this.timer = setInterval(() => this.paint(), opts.frameMs ?? 100);
    this.timer.unref();
  }

  update(job: Job): void {
    this.job = job;
    if (this.shown) this.paint();
  }

  /** Erases the line (if shown) and writes `text` on stderr; the next frame repaints below it. */
  print(text: string): void {
    this.clear();
    this.opts.write(text);
  }

  /** Erases the line for good: call before the job's first output and when the wait ends. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.clear();
  }

  private clear(): void {
    if (!this.shown) return;
    this.shown = false;
    this.opts.write(ERASE_LINE);
  }

  private paint(): void {
    const elapsedMs = Date.now() - this.startedAt;
    if (this.stopped || !this.job || elapsedMs < (this.opts.delayMs ?? 200)) return;
    // One column short of the width: a line that wraps can no longer be erased with \r.
    const width = (this.opts.columns?.() || 80) - 1;
    const spinner = SPINNER[this.frame++ % SPINNER.length]!;
    const text = Array.from(describeJob(this.job, elapsedMs))
      .slice(0, width - 2)
      .join('');
    const mark = this.opts.color ? `${CYAN}${spinner}${RESET}` : spinner;
    this.shown = true;
    this.opts.write(`${ERASE_LINE}${mark} ${text}`);
  }
}

/**
 * Starts a status line for job `first` on stderr when `statusLineWanted`, fed by the job's live
 * events (no polling); undefined otherwise. `close()` erases the line at once and ends the event
 * stream.
 */
export function jobStatusLine(
  io: CliIo,
  off: Offload,
  first: Job | string,
  quiet = false,
): { line: StatusLine; close: () => Promise<void> } | undefined {
  if (!statusLineWanted(io, quiet)) return undefined;
  const line = new StatusLine({
    write: io.stderr,
    color: colorWanted(io.env),
    columns: io.stderrColumns,
  });
  const id = typeof first === 'string' ? first : first.id;
  if (typeof first !== 'string') line.update(first);
  const events = off.events({ jobId: id, types: ['job.*'] });
  const follow = async () => {
    let fromEvents = false;
    await events.connect();
    // Subscribed first, then read: no change falls between the two. A newer event wins.
    void off
      .get(id)
      .then((job) => {
        if (!fromEvents) line.update(job);
      })
      .catch(() => undefined);
    for await (const ev of events) {
      if (!('job' in ev)) continue;
      fromEvents = true;
      line.update(ev.job);
    }
  };
  // The line is a courtesy: a failed event stream leaves it showing the last state it knew.
  follow().catch(() => undefined);
  let closing: Promise<void> | undefined;
  return {
    line,
    // Erases the line at once (before the caller writes anything); idempotent.
    close: () => {
      line.stop();
      return (closing ??= events.close().catch(() => undefined));
    },
  };
}
