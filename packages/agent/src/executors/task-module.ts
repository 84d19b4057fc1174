import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { errMessage } from '../error-message.js';

/** What a task handler gets besides its input. */
export interface TaskContext {
  readonly jobId: string;
  readonly attempt: number;
  /** Aborted on cancel and on timeout (`signal.reason` says which). Pass it on to fetch, child processes, loops. */
  readonly signal: AbortSignal;
  /** Reports progress: percent 0–100 (clamped), optional stage and message. */
  progress(percent: number, stage?: string, message?: string): void;
  /** `log(text)` writes a line to the job's stdout, `log.error(text)` to its stderr. */
  readonly log: TaskLog;
}

export interface TaskLog {
  (text: string): void;
  error(text: string): void;
}

export type TaskHandler<Input = unknown, Output = unknown> = (
  input: Input,
  ctx: TaskContext,
) => Output | Promise<Output>;

/** Any handler, whatever its input type (`never` accepts every parameter type). */
export type AnyTaskHandler = TaskHandler<never, unknown>;
export type TaskHandlers = Record<string, AnyTaskHandler>;

/** Types one handler. Returns it unchanged. */
export function defineTask<Input = unknown, Output = unknown>(
  handler: TaskHandler<Input, Output>,
): TaskHandler<Input, Output> {
  return handler;
}

/** Types a module's default export: `export default defineTasks({ thumbnail: async (input, ctx) => ... })`. */
export function defineTasks<T extends TaskHandlers>(handlers: T): T {
  return handlers;
}

/** A validated set of handlers. */
export interface TaskRegistry {
  /** Where it was loaded from, when it came from a module. */
  readonly source?: string;
  /** Handler names, sorted; each becomes capability `task:<name>`. */
  readonly names: readonly string[];
  get(name: string): AnyTaskHandler | undefined;
}

const NAME_RE = /^[^\s]{1,120}$/;

/**
 * Checks a handler map (a module's default export or an object from an embedding program).
 * Throws naming `where` and the problem.
 */
export function createTaskRegistry(handlers: unknown, where = 'task handlers'): TaskRegistry {
  if (handlers === null || typeof handlers !== 'object' || Array.isArray(handlers))
    throw new Error(
      `${where}: the default export must be an object mapping task names to functions, got ${describe(handlers)}`,
    );
  const map = new Map<string, AnyTaskHandler>();
  for (const [name, fn] of Object.entries(handlers)) {
    if (typeof fn !== 'function')
      throw new Error(`${where}: task "${name}" is ${describe(fn)}, not a function`);
    if (!NAME_RE.test(name))
      throw new Error(
        `${where}: task name ${JSON.stringify(name)} is not usable (1–120 characters, no spaces)`,
      );
    map.set(name, fn as AnyTaskHandler);
  }
  if (map.size === 0) throw new Error(`${where}: the default export defines no task handlers`);
  const names = [...map.keys()].sort();
  return {
    ...(where !== 'task handlers' && { source: where }),
    names,
    get: (name) => map.get(name),
  };
}

/**
 * Imports the ES module at `path` (relative to the working directory) and validates its
 * default export. Fails with an Error naming the path and why: not found, failed to load
 * (syntax error, a throwing top-level, a missing import), or the wrong shape.
 */
export async function loadTaskModule(path: string): Promise<TaskRegistry> {
  const abs = resolve(path);
  try {
    const st = await stat(abs);
    if (!st.isFile()) throw new Error('is not a file');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'not found' : errMessage(err);
    throw new Error(`task module ${abs}: ${why}`, { cause: err });
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    // Node throws a SyntaxError; a bundler's loader (vitest) wraps it in a message that says so.
    const kind =
      err instanceof SyntaxError || /\bsyntax\b/i.test(errMessage(err))
        ? 'syntax error'
        : 'failed to load';
    throw new Error(`task module ${abs}: ${kind}: ${errMessage(err)}`, { cause: err });
  }
  if (!('default' in mod))
    throw new Error(`task module ${abs}: no default export (export default { name: handler })`);
  return createTaskRegistry(mod.default, `task module ${abs}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
