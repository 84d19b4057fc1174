import { Command, InvalidArgumentError } from 'commander';
import { parseDurationMs, type Job, type JobSubmit } from '@offload/protocol';
import type { CliIo } from '../cli-io.js';
import { jobStatusLine } from '../status-line.js';
import { withClient } from './connection.js';
import { endLine, jobExitCode } from './format.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function nonNegativeNumber(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number ≥ 0');
  return n;
}

function nonNegativeInt(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer ≥ 0');
  return n;
}

function durationSec(text: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms <= 0)
    throw new InvalidArgumentError('expected a duration like 500ms, 30s, 5m or 2h');
  return ms / 1000;
}

function envPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected K=V');
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

interface RunOptions {
  cap?: string[];
  agent?: string;
  cpu?: number;
  memory?: number;
  gpus?: number;
  priority?: string;
  timeout?: number;
  retries?: number;
  env?: Record<string, string>;
  cwd?: string;
  queue?: string;
  name?: string;
  detach?: boolean;
  quiet?: boolean;
}

/** The job spec for `offload run` flags and argv (sent as given: no local shell). */
export function runSpec(argv: string[], opts: RunOptions): JobSubmit {
  const requires: NonNullable<JobSubmit['requires']> = {
    ...(opts.cap && { capabilities: opts.cap }),
    ...(opts.cpu !== undefined && { cpu: opts.cpu }),
    ...(opts.memory !== undefined && { memoryMb: opts.memory }),
    ...(opts.gpus !== undefined && { gpus: opts.gpus }),
  };
  return {
    command: argv,
    ...(Object.keys(requires).length > 0 && { requires }),
    ...(opts.agent !== undefined && { targetAgent: opts.agent }),
    ...(opts.priority !== undefined && {
      priority: opts.priority as NonNullable<JobSubmit['priority']>,
    }),
    ...(opts.timeout !== undefined && { timeoutSec: opts.timeout }),
    ...(opts.retries !== undefined && { maxAttempts: opts.retries + 1 }),
    ...(opts.env && { env: opts.env }),
    ...(opts.cwd !== undefined && { cwd: opts.cwd }),
    ...(opts.queue !== undefined && { queue: opts.queue }),
    ...(opts.name !== undefined && { name: opts.name }),
  };
}

export function runCommand(io: CliIo, setExit: (code: number) => void): Command {
  return new Command('run')
    .description(
      "Run a command on the fleet: stream its output live and exit with the job's exit code.",
    )
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('--cap <capability>', 'require a capability (repeatable)', collect)
    .option('--agent <name>', 'run only on this agent')
    .option('--cpu <n>', 'CPU slots', nonNegativeNumber)
    .option('--memory <mb>', 'memory in MB', nonNegativeInt)
    .option('--gpus <n>', 'whole GPUs', nonNegativeInt)
    .option('--priority <p>', 'critical, high, normal or low')
    .option('--timeout <duration>', 'kill the job after this long (e.g. 30s, 5m, 2h)', durationSec)
    .option('--retries <n>', 'retry a failed attempt up to N times', nonNegativeInt)
    .option('--env <K=V>', 'set an environment variable for the job (repeatable)', envPair)
    .option('--cwd <dir>', 'working directory on the agent')
    .option('--queue <queue>', 'queue (default `default`)')
    .option('--name <name>', 'job name')
    .option('--detach', 'print the job id and return at once')
    .option('-q, --quiet', 'no live status line on the terminal while the job waits')
    .addHelpText(
      'after',
      '\nExample: offload run --cap gpu -- python train.py --epochs 3\n' +
        'The first Ctrl-C cancels the job; a second one detaches.',
    )
    .action(async (argv: string[], opts: RunOptions, cmd: Command) => {
      await withClient(cmd, io, async (off) => {
        const submitted = await off.submit(runSpec(argv, opts));
        if (opts.detach) return io.stdout(`${submitted.id}\n`);

        // Until the job prints, a status line on the terminal says what it waits for. It is
        // erased before the first output that reaches the terminal and not drawn again: from
        // then on the terminal shows the job's output alone, as if it ran here (a partial line
        // is never overwritten). Output to a file or pipe (`> build.log`) leaves it running.
        const status = jobStatusLine(io, off, submitted, opts.quiet);
        const say = (text: string) => (status ? status.line.print(text) : io.stderr(text));
        const detach = new AbortController();
        let interrupts = 0;
        const onSigint = () => {
          interrupts++;
          if (interrupts === 1) {
            say(`offload: canceling job ${submitted.id} (Ctrl-C again to detach)\n`);
            off.cancel(submitted.id).catch((err: unknown) => {
              say(`offload: cancel failed: ${(err as Error).message}\n`);
            });
          } else {
            void status?.close();
            io.stderr(`offload: detached from job ${submitted.id}\n`);
            detach.abort();
          }
        };
        process.on('SIGINT', onSigint);
        let job: Job | undefined;
        try {
          const stream = off.logs(submitted.id, { follow: true, signal: detach.signal });
          try {
            for await (const chunk of stream) {
              if (chunk.stream === 'stderr' || io.stdoutIsTTY !== false) void status?.close();
              (chunk.stream === 'stderr' ? io.stderr : io.stdout)(chunk.data);
            }
          } catch (err) {
            if (!detach.signal.aborted) throw err;
          }
          if (detach.signal.aborted) return setExit(130);
          job = stream.job;
          if (!job || !['succeeded', 'failed', 'canceled', 'expired'].includes(job.state))
            job = await off.wait(submitted.id, { signal: detach.signal });
        } finally {
          process.off('SIGINT', onSigint);
          await status?.close();
        }
        const code = jobExitCode(job);
        // A command that exited on its own says so itself; anything else gets a line.
        const ownExit = job.state === 'succeeded' || job.error?.code === 'EXIT_NONZERO';
        if (!ownExit) io.stderr(`offload: ${endLine(job)}\n`);
        setExit(code);
      });
    });
}
