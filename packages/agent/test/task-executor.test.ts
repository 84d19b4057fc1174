import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createTaskExecutor,
  defineTask,
  defineTasks,
  jsonProblem,
  loadTaskModule,
  type TaskContext,
} from '../src/index.js';
import { createSandbox, recorder } from './helpers.js';

const box = createSandbox();
const modDir = join(box.root, 'modules');
mkdirSync(modDir, { recursive: true });
afterAll(() => box.cleanup());

let modCount = 0;
function writeModule(source: string): string {
  const file = join(modDir, `tasks-${++modCount}.mjs`);
  writeFileSync(file, source);
  return file;
}

const waitForAbort = (ctx: TaskContext) =>
  new Promise((_resolve, reject) =>
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true }),
  );

const tasks = defineTasks({
  add: defineTask<{ a: number; b: number }, { sum: number }>(async ({ a, b }) => ({ sum: a + b })),
  boom: async () => {
    throw new Error('disk full');
  },
  throwsString: () => {
    throw 'plain string'; // eslint-disable-line @typescript-eslint/only-throw-error
  },
  chatty: async (_input: unknown, ctx) => {
    ctx.log('hello');
    ctx.progress(40, 'encoding', 'frame 4 of 10');
    ctx.log.error('careful');
    ctx.progress(150);
    return { jobId: ctx.jobId, attempt: ctx.attempt };
  },
  obedient: async (_input: unknown, ctx) => waitForAbort(ctx),
  stubborn: () => new Promise(() => {}), // ignores its signal, never settles
  unserializable: async () => ({ n: 10n }),
  cyclic: async () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    return a;
  },
  nothing: async () => undefined,
  dated: async () => ({ at: new Date(0) }),
});

const exec = createTaskExecutor({ tasks, graceMs: 200 });

describe('task executor', () => {
  it('returns the handler result and exposes its names', async () => {
    expect(exec.names).toEqual([...Object.keys(tasks)].sort());
    const run = exec.start(box.job({ task: 'add', input: { a: 2, b: 3 } }));
    expect(await run.done).toMatchObject({ outcome: 'succeeded', result: { sum: 5 } });
  });

  it('a thrown error fails TASK_FAILED with its message', async () => {
    expect((await exec.start(box.job({ task: 'boom' })).done).error).toEqual({
      code: 'TASK_FAILED',
      message: 'disk full',
    });
    expect((await exec.start(box.job({ task: 'throwsString' })).done).error).toEqual({
      code: 'TASK_FAILED',
      message: 'plain string',
    });
  });

  it('streams ctx.log, ctx.log.error and ctx.progress', async () => {
    const rec = recorder();
    const job = box.job({ task: 'chatty' }, { attempt: 2 });
    const out = await exec.start(job, rec).done;
    expect(out.result).toEqual({ jobId: job.id, attempt: 2 });
    expect(rec.chunks).toEqual([
      { stream: 'stdout', data: 'hello\n' },
      { stream: 'stderr', data: 'careful\n' },
    ]);
    // Progress within one batch collapses to the latest; percent is clamped to 100.
    expect(rec.progress).toEqual([{ percent: 100 }]);
  });

  it('cancel aborts ctx.signal and ends CANCELED', async () => {
    const run = exec.start(box.job({ task: 'obedient' }));
    setTimeout(() => run.cancel(), 50);
    expect((await run.done).error?.code).toBe('CANCELED');
  });

  it('ctx.signal first looked at after a cancel is already aborted', async () => {
    let seen: { aborted: boolean; name: string } | undefined;
    const local = createTaskExecutor({
      tasks: {
        late: async (_input: unknown, ctx) => {
          await new Promise((r) => setTimeout(r, 100));
          seen = { aborted: ctx.signal.aborted, name: (ctx.signal.reason as Error).name };
        },
      },
      graceMs: 1_000,
    });
    const run = local.start(box.job({ task: 'late' }));
    setTimeout(() => run.cancel(), 20);
    expect((await run.done).error?.code).toBe('CANCELED');
    expect(seen).toEqual({ aborted: true, name: 'AbortError' });
  });

  it('timeout aborts the signal with a TimeoutError and ends TIMEOUT', async () => {
    let reason: unknown;
    const local = createTaskExecutor({
      tasks: {
        watch: async (_i: unknown, ctx: TaskContext) => {
          await waitForAbort(ctx).catch((e: unknown) => (reason = e));
        },
      },
      graceMs: 200,
    });
    const out = await local.start(box.job({ task: 'watch' }, { timeoutSec: 0.1 })).done;
    expect(out.error).toEqual({ code: 'TIMEOUT', message: 'timed out after 0.1 s' });
    expect((reason as Error).name).toBe('TimeoutError');
  });

  it('a handler that ignores the signal still ends TIMEOUT after the grace', async () => {
    const t0 = Date.now();
    const out = await exec.start(box.job({ task: 'stubborn' }, { timeoutSec: 0.1 })).done;
    expect(out.error?.code).toBe('TIMEOUT');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
  });

  it('a destructured context works: log, progress and signal stay bound', async () => {
    const rec = recorder();
    const local = createTaskExecutor({
      tasks: {
        loose: async (_input: unknown, { log, progress, signal }: TaskContext) => {
          log('one');
          log.error('two');
          progress(50);
          return signal.aborted;
        },
      },
    });
    const out = await local.start(box.job({ task: 'loose' }), rec).done;
    expect(out).toMatchObject({ outcome: 'succeeded', result: false });
    expect(rec.chunks).toEqual([
      { stream: 'stdout', data: 'one\n' },
      { stream: 'stderr', data: 'two\n' },
    ]);
    expect(rec.progress).toEqual([{ percent: 50 }]);
  });

  it('timeouts share one timer: each task ends at its own deadline, a quick one on time', async () => {
    const local = createTaskExecutor({
      tasks: {
        wait: (ms: number, ctx: TaskContext) =>
          new Promise((resolve, reject) => {
            const t = setTimeout(() => resolve(ms), ms);
            ctx.signal.addEventListener('abort', () => {
              clearTimeout(t);
              reject(ctx.signal.reason as Error);
            });
          }),
      },
      graceMs: 1_000,
    });
    const quick = local.start(box.job({ task: 'wait', input: 10 }, { timeoutSec: 0.2 }));
    const slow = local.start(box.job({ task: 'wait', input: 5_000 }, { timeoutSec: 0.3 }));
    const shorter = local.start(box.job({ task: 'wait', input: 5_000 }, { timeoutSec: 0.1 }));
    const [q, sl, sh] = await Promise.all([quick.done, slow.done, shorter.done]);
    expect(q).toMatchObject({ outcome: 'succeeded', result: 10 });
    expect(sh.error).toEqual({ code: 'TIMEOUT', message: 'timed out after 0.1 s' });
    expect(sl.error).toEqual({ code: 'TIMEOUT', message: 'timed out after 0.3 s' });
    expect(sl.usage.wallSec).toBeGreaterThanOrEqual(0.29);
  });

  it('an unknown task name fails NO_HANDLER', async () => {
    const out = await exec.start(box.job({ task: 'resize' })).done;
    expect(out.error?.code).toBe('NO_HANDLER');
    expect(out.error?.message).toMatch(/no handler for task "resize".*it has: add, boom/);
  });

  it('refuses results that are not JSON', async () => {
    expect((await exec.start(box.job({ task: 'unserializable' })).done).error).toEqual({
      code: 'TASK_FAILED',
      message: "the task's result is not JSON-serializable: result.n is a BigInt",
    });
    expect((await exec.start(box.job({ task: 'cyclic' })).done).error?.message).toMatch(
      /result\.self is a circular reference/,
    );
    const none = await exec.start(box.job({ task: 'nothing' })).done;
    expect(none).toMatchObject({ outcome: 'succeeded' });
    expect('result' in none).toBe(false);
    expect((await exec.start(box.job({ task: 'dated' })).done).result).toEqual({
      at: '1970-01-01T00:00:00.000Z',
    });
    expect(jsonProblem({ a: [1, NaN] })).toBe('result.a[1] is NaN');
    expect(jsonProblem(new Map())).toMatch(/Map/);
  });
});

describe('loadTaskModule', () => {
  it('loads a plain object default export', async () => {
    const file = writeModule(
      'export default { double: async (n) => n * 2, greet: (name, ctx) => `hi ${name} ${ctx.jobId}` };\n',
    );
    const reg = await loadTaskModule(file);
    expect(reg.names).toEqual(['double', 'greet']);
    expect(reg.source).toContain(file);
    const local = createTaskExecutor({ tasks: reg });
    expect((await local.start(box.job({ task: 'double', input: 21 })).done).result).toBe(42);
  });

  it('names the path and the reason when a module is unusable', async () => {
    const missing = join(modDir, 'missing.mjs');
    await expect(loadTaskModule(missing)).rejects.toThrow(`task module ${missing}: not found`);
    const syntax = writeModule('export default { broken: async () => { ;\n');
    await expect(loadTaskModule(syntax)).rejects.toThrow(`task module ${syntax}: syntax error`);
    const notObject = writeModule('export default 42;\n');
    await expect(loadTaskModule(notObject)).rejects.toThrow(
      /must be an object mapping task names to functions, got a number/,
    );
    const notFn = writeModule('export default { a: async () => 1, b: "nope" };\n');
    await expect(loadTaskModule(notFn)).rejects.toThrow(/task "b" is a string, not a function/);
    const noDefault = writeModule('export const a = () => 1;\n');
    await expect(loadTaskModule(noDefault)).rejects.toThrow(/no default export/);
    await expect(loadTaskModule(modDir)).rejects.toThrow(/is not a file/);
  });
});
