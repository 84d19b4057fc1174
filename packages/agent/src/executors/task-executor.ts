import type { ClaimedJob } from '@offload/protocol';
import { failed, type JobOutcome, type ProgressUpdate, type RunCallbacks } from './job-outcome.js';
import { DEFAULT_BATCH_BYTES, DEFAULT_BATCH_MS, OutputBatcher } from './output-batcher.js';
import { MESSAGE_MAX_LENGTH, STAGE_MAX_LENGTH } from './progress-line.js';
import {
  createTaskRegistry,
  type TaskContext,
  type TaskHandler,
  type TaskHandlers,
  type TaskLog,
  type TaskRegistry,
} from './task-module.js';

export const DEFAULT_TASK_GRACE_MS = 10_000;
const MAX_TIMER_MS = 2_147_483_647;

export interface TaskExecutorOptions {
  /** From `loadTaskModule()`, or a plain handler map (an agent embedded in a Node program). */
  tasks: TaskRegistry | TaskHandlers;
  /**
   * After cancel or timeout aborts `ctx.signal`, how long the attempt waits for the handler to
   * settle before it ends anyway (CANCELED / TIMEOUT).
   */
  graceMs?: number;
  batchMs?: number;
  batchBytes?: number;
}

export interface TaskRun {
  readonly jobId: string;
  readonly attempt: number;
  /** Resolves exactly once; never rejects. */
  readonly done: Promise<JobOutcome>;
  /** Aborts `ctx.signal`; `done` resolves CANCELED when the handler settles or the grace ends. */
  cancel(): void;
}

export interface TaskExecutor {
  /** Handler names (capabilities `task:<name>`). */
  readonly names: readonly string[];
  start(job: ClaimedJob, callbacks?: RunCallbacks): TaskRun;
}

/**
 * Runs task jobs in this process. A handler that ignores its AbortSignal cannot be stopped
 * from outside: on timeout or cancel the attempt still ends after the grace, but the handler's
 * promise may go on running in the agent process (JavaScript has no way to kill it). Handlers
 * that may hang should honour `ctx.signal`, or be run as command jobs instead.
 *
 * Built for short tasks by the thousand: an attempt is one object whose context, output
 * batcher and AbortController are made only when the handler uses them, and timeouts share
 * one timer per executor (see Deadlines). With a closure-built context, a batcher and a
 * timer per task, start() and its closures were ~6 % of the agent's CPU (profile of one agent
 * running 50,000 no-op tasks).
 */
export function createTaskExecutor(options: TaskExecutorOptions): TaskExecutor {
  const registry = isRegistry(options.tasks) ? options.tasks : createTaskRegistry(options.tasks);
  const settings: AttemptSettings = {
    graceMs: options.graceMs ?? DEFAULT_TASK_GRACE_MS,
    batchMs: options.batchMs ?? DEFAULT_BATCH_MS,
    batchBytes: options.batchBytes ?? DEFAULT_BATCH_BYTES,
    deadlines: new Deadlines(),
  };
  return {
    names: registry.names,
    start(job, callbacks = {}) {
      const name = job.payload.task;
      const handler = name !== undefined ? registry.get(name) : undefined;
      if (!handler) {
        const message =
          name === undefined
            ? 'the job names no task'
            : `no handler for task "${name}" on this agent (it has: ${registry.names.join(', ')})`;
        return {
          jobId: job.id,
          attempt: job.attempt,
          done: Promise.resolve(failed('NO_HANDLER', message, { wallSec: 0 })),
          cancel: () => undefined,
        };
      }
      return new TaskAttempt(job, handler as TaskHandler, callbacks, settings);
    },
  };
}

interface AttemptSettings {
  graceMs: number;
  batchMs: number;
  batchBytes: number;
  deadlines: Deadlines;
}

class TaskAttempt implements TaskRun {
  readonly jobId: string;
  readonly attempt: number;
  readonly done: Promise<JobOutcome>;
  private resolve!: (o: JobOutcome) => void;
  private readonly startedAt = performance.now();
  private finished = false;
  private stopReason: 'cancel' | 'timeout' | undefined;
  private abortReason: DOMException | undefined;
  private controller: AbortController | undefined;
  private batcher: OutputBatcher | undefined;
  private deadline: Deadline | undefined;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly job: ClaimedJob,
    handler: TaskHandler,
    private readonly callbacks: RunCallbacks,
    private readonly settings: AttemptSettings,
  ) {
    this.jobId = job.id;
    this.attempt = job.attempt;
    this.done = new Promise<JobOutcome>((resolve) => (this.resolve = resolve));
    if (job.timeoutSec > 0)
      this.deadline = settings.deadlines.add(Math.min(job.timeoutSec * 1000, MAX_TIMER_MS), () =>
        this.stop('timeout'),
      );
    let result: unknown;
    try {
      result = handler(job.payload.input, new Context(this));
    } catch (err) {
      this.failedWith(err);
      return;
    }
    if (isThenable(result))
      result.then(
        (value) => this.succeededWith(value),
        (err: unknown) => this.failedWith(err),
      );
    else this.succeededWith(result);
  }

  cancel(): void {
    this.stop('cancel');
  }

  /** ctx.signal: made on first use (an AbortController per task cost 5 % of the agent's CPU). */
  signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortReason) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** ctx.log and ctx.progress: the batcher is made on first output. */
  output(): OutputBatcher {
    return (this.batcher ??= new OutputBatcher({
      ...this.callbacks,
      batchMs: this.settings.batchMs,
      batchBytes: this.settings.batchBytes,
    }));
  }

  private usage(): JobOutcome['usage'] {
    return { wallSec: Math.round(performance.now() - this.startedAt) / 1000 };
  }

  private stop(reason: 'cancel' | 'timeout'): void {
    if (this.stopReason || this.finished) return;
    this.stopReason = reason;
    this.abortReason =
      reason === 'timeout'
        ? new DOMException(`task timed out after ${this.job.timeoutSec} s`, 'TimeoutError')
        : new DOMException('task canceled', 'AbortError');
    this.controller?.abort(this.abortReason);
    this.graceTimer = setTimeout(() => this.finish(this.stopped()), this.settings.graceMs);
  }

  private stopped(): JobOutcome {
    return this.stopReason === 'timeout'
      ? failed('TIMEOUT', `timed out after ${this.job.timeoutSec} s`, this.usage())
      : failed('CANCELED', 'canceled', this.usage());
  }

  private succeededWith(result: unknown): void {
    if (this.stopReason) return this.finish(this.stopped());
    // Most results are null, undefined or a flat value: no walk, no copy.
    if (
      result === undefined ||
      result === null ||
      typeof result === 'string' ||
      result === true ||
      result === false
    )
      return this.finish(
        result === undefined
          ? { outcome: 'succeeded', usage: this.usage() }
          : { outcome: 'succeeded', result, usage: this.usage() },
      );
    const problem = jsonProblem(result);
    if (problem)
      return this.finish(
        failed(
          'TASK_FAILED',
          `the task's result is not JSON-serializable: ${problem}`,
          this.usage(),
        ),
      );
    this.finish({
      outcome: 'succeeded',
      result: JSON.parse(JSON.stringify(result)) as unknown,
      usage: this.usage(),
    });
  }

  private failedWith(err: unknown): void {
    if (this.stopReason) return this.finish(this.stopped());
    this.finish(failed('TASK_FAILED', errorMessage(err), this.usage()));
  }

  private finish(outcome: JobOutcome): void {
    if (this.finished) return;
    this.finished = true;
    if (this.deadline) this.settings.deadlines.remove(this.deadline);
    clearTimeout(this.graceTimer);
    this.batcher?.close();
    this.resolve(outcome);
  }
}

/**
 * What a handler gets. Its functions are made on first use, so handlers that never log or
 * report progress cost nothing for them; each stays bound, so `({ log, progress }) => …` works.
 */
class Context implements TaskContext {
  readonly jobId: string;
  readonly attempt: number;
  #attempt: TaskAttempt;
  #log: TaskLog | undefined;
  #progress: TaskContext['progress'] | undefined;

  constructor(attempt: TaskAttempt) {
    this.#attempt = attempt;
    this.jobId = attempt.jobId;
    this.attempt = attempt.attempt;
  }

  get signal(): AbortSignal {
    return this.#attempt.signal();
  }

  get log(): TaskLog {
    if (!this.#log) {
      const a = this.#attempt;
      const log = ((text: string) => a.output().write('stdout', line(text))) as TaskLog;
      log.error = (text: string) => a.output().write('stderr', line(text));
      this.#log = log;
    }
    return this.#log;
  }

  get progress(): TaskContext['progress'] {
    if (!this.#progress) {
      const a = this.#attempt;
      this.#progress = (percent, stage, message) => {
        if (typeof percent !== 'number' || Number.isNaN(percent)) return;
        const p: ProgressUpdate = { percent: Math.min(100, Math.max(0, percent)) };
        if (stage !== undefined) p.stage = String(stage).slice(0, STAGE_MAX_LENGTH);
        if (message !== undefined) p.message = String(message).slice(0, MESSAGE_MAX_LENGTH);
        a.output().setProgress(p);
      };
    }
    return this.#progress;
  }
}

function line(text: unknown): string {
  const s = String(text);
  return s.endsWith('\n') ? s : `${s}\n`;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

interface Deadline {
  at: number;
  fire: () => void;
  prev: Deadline | undefined;
  next: Deadline | undefined;
  list: DeadlineList;
}

interface DeadlineList {
  head: Deadline | undefined;
  tail: Deadline | undefined;
}

/**
 * The timeouts of running tasks on one timer. Tasks with the same timeout end up in one list
 * in deadline order (added in time order), so adding and removing are O(1) and the timer is
 * armed for the earliest head. A setTimeout + clearTimeout per task cost ~1 µs and a Timeout
 * object, at 10,000+ tasks/s that all carry the default timeout.
 */
class Deadlines {
  private readonly lists = new Map<number, DeadlineList>();
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Infinity;
  private count = 0;

  add(ms: number, fire: () => void): Deadline {
    let list = this.lists.get(ms);
    if (!list) this.lists.set(ms, (list = { head: undefined, tail: undefined }));
    const d: Deadline = {
      at: performance.now() + ms,
      fire,
      prev: list.tail,
      next: undefined,
      list,
    };
    if (list.tail) list.tail.next = d;
    else list.head = d;
    list.tail = d;
    if (this.count++ === 0) this.timer?.ref();
    if (d.at < this.armedAt) this.arm(d.at);
    return d;
  }

  remove(d: Deadline): void {
    const list = d.list;
    if (d.prev) d.prev.next = d.next;
    else if (list.head === d) list.head = d.next;
    else return; // already removed
    if (d.next) d.next.prev = d.prev;
    else list.tail = d.prev;
    d.prev = d.next = undefined;
    // The timer stays armed: when it fires it finds nothing due and re-arms for the earliest
    // head. With no task left it keeps no process alive (unref'd, not cleared: short tasks
    // one after another would otherwise arm and clear it once each).
    if (--this.count === 0) this.timer?.unref();
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    this.armedAt = at;
    this.timer = setTimeout(() => this.fireDue(), Math.max(0, at - performance.now()));
    if (this.count === 0) this.timer.unref();
  }

  private fireDue(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = performance.now();
    const due: Deadline[] = [];
    let next = Infinity;
    for (const [ms, list] of this.lists) {
      while (list.head && list.head.at <= now) {
        due.push(list.head);
        this.remove(list.head);
      }
      if (list.head) next = Math.min(next, list.head.at);
      else this.lists.delete(ms);
    }
    if (next !== Infinity) this.arm(next);
    for (const d of due) d.fire();
  }
}

function isRegistry(t: TaskRegistry | TaskHandlers): t is TaskRegistry {
  return Array.isArray((t as TaskRegistry).names) && typeof (t as TaskRegistry).get === 'function';
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'string') return err;
  try {
    return `threw ${JSON.stringify(err)}`;
  } catch {
    return `threw ${String(err)}`;
  }
}

/**
 * Why `value` would not survive JSON (with the path), or undefined. Stricter than
 * JSON.stringify, which silently turns NaN into null, drops functions and throws on BigInt
 * and cycles. `undefined` at the top means "no result"; objects with toJSON (Date) are fine.
 */
export function jsonProblem(
  value: unknown,
  path = 'result',
  seen = new Set<object>(),
): string | undefined {
  switch (typeof value) {
    case 'undefined':
      return path === 'result' ? undefined : `${path} is undefined`;
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value}`;
    case 'bigint':
      return `${path} is a BigInt`;
    case 'function':
      return `${path} is a function`;
    case 'symbol':
      return `${path} is a symbol`;
    case 'object':
      break;
  }
  if (value === null) return undefined;
  const obj = value;
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') return undefined;
  if (obj instanceof Map || obj instanceof Set)
    return `${path} is a ${obj instanceof Map ? 'Map' : 'Set'} (convert it to an object or array)`;
  if (seen.has(obj)) return `${path} is a circular reference`;
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) {
        const p = jsonProblem(obj[i] as unknown, `${path}[${i}]`, seen);
        if (p) return p;
      }
      return undefined;
    }
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined) continue; // JSON drops undefined properties; that is expected
      const p = jsonProblem(v, `${path}.${k}`, seen);
      if (p) return p;
    }
    return undefined;
  } finally {
    seen.delete(obj);
  }
}
