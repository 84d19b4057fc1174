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
 */
export function createTaskExecutor(options: TaskExecutorOptions): TaskExecutor {
  const registry = isRegistry(options.tasks) ? options.tasks : createTaskRegistry(options.tasks);
  const graceMs = options.graceMs ?? DEFAULT_TASK_GRACE_MS;
  return {
    names: registry.names,
    start(job, callbacks = {}) {
      const startedAt = performance.now();
      const usage = () => ({ wallSec: Math.round(performance.now() - startedAt) / 1000 });
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
          done: Promise.resolve(failed('NO_HANDLER', message, usage())),
          cancel: () => undefined,
        };
      }

      const batcher = new OutputBatcher({
        ...callbacks,
        batchMs: options.batchMs ?? DEFAULT_BATCH_MS,
        batchBytes: options.batchBytes ?? DEFAULT_BATCH_BYTES,
      });
      // Made on first use of ctx.signal: most handlers never look at it, and an AbortController
      // per task was 5 % of the agent's CPU at 5,000 no-op tasks/s.
      let controller: AbortController | undefined;
      let abortReason: DOMException | undefined;
      const signal = (): AbortSignal => {
        if (!controller) {
          controller = new AbortController();
          if (abortReason) controller.abort(abortReason);
        }
        return controller.signal;
      };
      let stopReason: 'cancel' | 'timeout' | undefined;
      let finish: (o: JobOutcome) => void = () => undefined;
      const timers: NodeJS.Timeout[] = [];

      const stopped = (): JobOutcome =>
        stopReason === 'timeout'
          ? failed('TIMEOUT', `timed out after ${job.timeoutSec} s`, usage())
          : failed('CANCELED', 'canceled', usage());

      const stop = (reason: 'cancel' | 'timeout') => {
        if (stopReason) return;
        stopReason = reason;
        abortReason =
          reason === 'timeout'
            ? new DOMException(`task timed out after ${job.timeoutSec} s`, 'TimeoutError')
            : new DOMException('task canceled', 'AbortError');
        controller?.abort(abortReason);
        timers.push(setTimeout(() => finish(stopped()), graceMs));
      };

      const done = new Promise<JobOutcome>((resolve) => {
        let finished = false;
        finish = (outcome) => {
          if (finished) return;
          finished = true;
          for (const t of timers) clearTimeout(t);
          batcher.close();
          resolve(outcome);
        };
      });

      if (job.timeoutSec > 0)
        timers.push(
          setTimeout(() => stop('timeout'), Math.min(job.timeoutSec * 1000, MAX_TIMER_MS)),
        );

      const ctx = createContext(job, signal, batcher);
      // The async wrapper turns a synchronous throw into a rejection.
      (async () => (handler as TaskHandler)(job.payload.input, ctx))().then(
        (result) => {
          if (stopReason) return finish(stopped());
          const problem = jsonProblem(result);
          if (problem)
            return finish(
              failed(
                'TASK_FAILED',
                `the task's result is not JSON-serializable: ${problem}`,
                usage(),
              ),
            );
          const out: JobOutcome = { outcome: 'succeeded', usage: usage() };
          if (result !== undefined) out.result = JSON.parse(JSON.stringify(result)) as unknown;
          finish(out);
        },
        (err: unknown) => {
          if (stopReason) return finish(stopped());
          finish(failed('TASK_FAILED', errorMessage(err), usage()));
        },
      );

      return { jobId: job.id, attempt: job.attempt, done, cancel: () => stop('cancel') };
    },
  };
}

function createContext(
  job: ClaimedJob,
  signal: () => AbortSignal,
  batcher: OutputBatcher,
): TaskContext {
  const line = (text: unknown) => {
    const s = String(text);
    return s.endsWith('\n') ? s : `${s}\n`;
  };
  const log = ((text: string) => batcher.write('stdout', line(text))) as TaskLog;
  log.error = (text: string) => batcher.write('stderr', line(text));
  return {
    jobId: job.id,
    attempt: job.attempt,
    get signal() {
      return signal();
    },
    log,
    progress(percent, stage, message) {
      if (typeof percent !== 'number' || Number.isNaN(percent)) return;
      const p: ProgressUpdate = { percent: Math.min(100, Math.max(0, percent)) };
      if (stage !== undefined) p.stage = String(stage).slice(0, STAGE_MAX_LENGTH);
      if (message !== undefined) p.message = String(message).slice(0, MESSAGE_MAX_LENGTH);
      batcher.setProgress(p);
    },
  };
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
