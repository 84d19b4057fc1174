import { Command } from 'commander';
import type { CliIo } from '../cli-io.js';
import { jobStatusLine } from '../status-line.js';
import { withClient } from './connection.js';
import { endLine, jobExitCode } from './format.js';

export function waitCommand(io: CliIo, setExit: (code: number) => void): Command {
  return new Command('wait')
    .description("Wait for a job to end; exit with the job's exit code.")
    .argument('<job>', 'job id')
    .option('-q, --quiet', 'no live status line on the terminal')
    .action(async (id: string, opts: { quiet?: boolean }, cmd: Command) => {
      await withClient(cmd, io, async (off) => {
        const status = jobStatusLine(io, off, id, opts.quiet);
        const job = await off.wait(id).finally(() => status?.close());
        if (job.state !== 'succeeded') io.stderr(`offload: ${endLine(job)}\n`);
        setExit(jobExitCode(job));
      });
    });
}
