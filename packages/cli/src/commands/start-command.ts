import { Command } from 'commander';
import type { CliIo } from '../cli-io.js';
import { runServer } from './run-server.js';
import { addServerOptions, serverOptionValues } from './server-options.js';

export function startCommand(io: CliIo, setExit: (code: number) => void): Command {
  const cmd = new Command('start')
    .description(
      'Run offload on this machine with zero config. For now this starts the server only; the local agent and the dashboard join it in a later version.',
    )
    .addHelpText(
      'after',
      '\nTakes the same options as `offload server`. On first start it creates the data directory and\n' +
        'prints the admin token once (also saved to <data dir>/admin-token).',
    );
  addServerOptions(cmd).action(async (opts: Record<string, unknown>) => {
    setExit(await runServer('server', serverOptionValues(opts), io));
  });
  return cmd;
}
