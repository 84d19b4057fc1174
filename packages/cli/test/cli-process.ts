import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Helpers to run the BUILT `offload` command as a real process, and never leak one. */

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = path.join(REPO_ROOT, 'packages/cli/bin/offload.js');

/** The subprocess runs dist/, not the sources vitest sees: fail clearly when it is missing. */
export function assertBuilt(): void {
  for (const pkg of ['cli/dist/main.js', 'server/dist/index.js', 'store/dist/index.js']) {
    const file = path.join(REPO_ROOT, 'packages', pkg);
    if (!fs.existsSync(file))
      throw new Error(
        `${file} is missing: build first with \`npx tsc -b tsconfig.build.json\` (CI builds before it tests)`,
      );
  }
}

/** The test's environment without the developer's OFFLOAD_* settings, plus `extra`. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OFFLOAD_')) env[k] = v;
  return { ...env, ...extra };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class CliProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.notify();
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.exit = { code, signal };
        this.notify();
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Resolves with the first match of `re` in stderr; rejects if the process ends first or `timeoutMs` passes. */
  waitForStderr(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = re.exec(this.stderr);
        if (m) return done(() => resolve(m));
        if (this.exit)
          return done(() =>
            reject(
              new Error(
                `offload exited (${JSON.stringify(this.exit)}) before printing ${re}; stderr:\n${this.stderr}`,
              ),
            ),
          );
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(new Error(`no ${re} on stderr within ${timeoutMs} ms; stderr:\n${this.stderr}`)),
          ),
        timeoutMs,
      );
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        fn();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Resolves with the exit; rejects if it takes longer than `timeoutMs`. */
  async waitForExit(timeoutMs = 20_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`offload still running after ${timeoutMs} ms; stderr:\n${this.stderr}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

/** Starts processes and kills whatever is still running in `killAll()` (call it in afterEach). */
export class CliProcesses {
  private readonly all: CliProcess[] = [];

  run(
    args: string[],
    options: { env?: NodeJS.ProcessEnv; cwd?: string; command?: string[] } = {},
  ): CliProcess {
    const [cmd, ...pre] = options.command ?? [process.execPath, BIN];
    const child = spawn(cmd!, [...pre, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env ?? cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = new CliProcess(child);
    this.all.push(p);
    return p;
  }

  async killAll(): Promise<void> {
    const live = this.all.splice(0).filter((p) => p.running);
    for (const p of live) p.child.kill('SIGKILL');
    await Promise.all(live.map((p) => p.exited));
  }
}
