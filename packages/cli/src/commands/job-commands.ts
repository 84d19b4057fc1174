import { Command, InvalidArgumentError } from 'commander';
import type { Attempt, Job } from '@offload/protocol';
import type { CliIo } from '../cli-io.js';
import { withClient } from './connection.js';
import { age, json, table } from './format.js';
import { waitCommand } from './wait-command.js';

export function positiveInt(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function jobRow(job: Job): string[] {
  return [job.id, job.state, job.name, job.queue, job.agent?.name ?? '-', age(job.createdAt)];
}

function jobDetail(job: Job): string {
  const lines: [string, string | undefined][] = [
    ['id', job.id],
    ['name', job.name],
    ['state', job.state + (job.cancelRequested ? ' (cancel requested)' : '')],
    ['queue', job.queue],
    [
      job.kind === 'task' ? 'task' : 'command',
      job.kind === 'task'
        ? job.task
        : Array.isArray(job.command)
          ? JSON.stringify(job.command)
          : job.command,
    ],
    ['attempt', `${job.attempt} of ${job.maxAttempts}`],
    ['agent', job.agent?.name],
    [
      'progress',
      job.progress
        ? [
            job.progress.percent !== undefined ? `${job.progress.percent}%` : '',
            job.progress.stage ?? '',
            job.progress.message ?? '',
          ]
            .filter(Boolean)
            .join(' ')
        : undefined,
    ],
    ['exit code', job.exitCode?.toString()],
    ['signal', job.signal],
    ['error', job.error ? `${job.error.code}: ${job.error.message}` : undefined],
    ['created', job.createdAt],
    ['started', job.startedAt],
    ['finished', job.finishedAt],
  ];
  return lines
    .filter((l): l is [string, string] => l[1] !== undefined && l[1] !== '')
    .map(([k, v]) => `${`${k}:`.padEnd(11)}${v}`)
    .join('\n')
    .concat('\n');
}

/** One attempt as a table row: how it ended, with its error, else its exit code or signal. */
function attemptRow(a: Attempt): string[] {
  const ran =
    a.endedAt === undefined ? '-' : `${(Date.parse(a.endedAt) - Date.parse(a.startedAt)) / 1000}s`;
  const detail = a.error
    ? `${a.error.code}: ${a.error.message}`
    : a.exitCode !== undefined
      ? `exit ${a.exitCode}`
      : (a.signal ?? '');
  return [String(a.attempt), a.agent.name, a.startedAt, ran, a.outcome, detail];
}

export function jobCommands(io: CliIo, setExit: (code: number) => void): Command[] {
  const jobs = new Command('jobs')
    .description('List jobs, newest first.')
    .option('--state <state>', 'only jobs in this state')
    .option('--queue <queue>', 'only jobs in this queue')
    .option('--limit <n>', 'at most this many jobs (default 50)', positiveInt)
    .option('--json', 'print the page as JSON')
    .action(
      async (
        opts: { state?: string; queue?: string; limit?: number; json?: boolean },
        cmd: Command,
      ) => {
        await withClient(cmd, io, async (off) => {
          const page = await off.listPage({
            ...(opts.state !== undefined && { state: opts.state as Job['state'] }),
            ...(opts.queue !== undefined && { queue: opts.queue }),
            limit: opts.limit ?? 50,
          });
          if (opts.json) return io.stdout(json(page));
          io.stdout(table(['ID', 'STATE', 'NAME', 'QUEUE', 'AGENT', 'AGE'], page.jobs.map(jobRow)));
        });
      },
    );

  const status = new Command('status')
    .description('Show one job.')
    .argument('<job>', 'job id')
    .option('--json', 'print the job as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      await withClient(cmd, io, async (off) => {
        const job = await off.get(id);
        io.stdout(opts.json ? json(job) : jobDetail(job));
      });
    });

  const attempts = new Command('attempts')
    .description("List a job's attempts, oldest first: where each ran and how it ended.")
    .argument('<job>', 'job id')
    .option('--json', 'print the attempts as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      await withClient(cmd, io, async (off) => {
        const list = await off.attempts(id);
        if (opts.json) return io.stdout(json({ attempts: list }));
        io.stdout(
          table(['ATTEMPT', 'AGENT', 'STARTED', 'RAN', 'OUTCOME', 'DETAIL'], list.map(attemptRow)),
        );
      });
    });

  const cancel = new Command('cancel')
    .description('Cancel a job (a running one is killed by its agent).')
    .argument('<job>', 'job id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await withClient(cmd, io, async (off) => {
        const job = await off.cancel(id);
        io.stdout(
          job.state === 'canceled' ? `${job.id} canceled\n` : `${job.id} cancel requested\n`,
        );
      });
    });

  const retry = new Command('retry')
    .description('Send a finished job back to the queue as a new attempt.')
    .argument('<job>', 'job id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await withClient(cmd, io, async (off) => {
        const job = await off.retry(id);
        io.stdout(`${job.id} ${job.state}\n`);
      });
    });

  const logs = new Command('logs')
    .description("Print a job's output; with -f, follow it until the job ends.")
    .argument('<job>', 'job id')
    .option('-f, --follow', 'stream the output live: stdout to stdout, stderr to stderr')
    .action(async (id: string, opts: { follow?: boolean }, cmd: Command) => {
      await withClient(cmd, io, async (off) => {
        if (!opts.follow) return io.stdout(await off.logs(id));
        await off.get(id); // a clear "not found" before streaming
        for await (const chunk of off.logs(id, { follow: true }))
          (chunk.stream === 'stderr' ? io.stderr : io.stdout)(chunk.data);
      });
    });

  return [jobs, status, attempts, cancel, retry, waitCommand(io, setExit), logs];
}
