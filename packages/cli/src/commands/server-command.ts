import { Command } from 'commander';
import { dashboardDistDir } from '@offload/dashboard';
import type { CliIo } from '../cli-io.js';
import { addServerOptions, serverOptionValues } from './server-options.js';

export function serverCommand(io: CliIo, setExit: (code: number) => void): Command {
  const cmd = new Command('server')
    .description(
      'Run the offload server (HTTP API, scheduler, leases, the dashboard at /) until SIGTERM or Ctrl-C.',
    )
    .addHelpText(
      'after',
      '\nSettings come from offload.yaml, then OFFLOAD_* variables, then these flags (later wins).\n' +
        'The admin token is OFFLOAD_ADMIN_TOKEN when set; else it is generated on first start, shown once\n' +
        'and saved to <data dir>/admin-token. See docs/reference/config.md.',
    );
  addServerOptions(cmd).action(async (opts: Record<string, unknown>) => {
    // Loaded here, not at the top: every other command starts without the server's code.
    const { runServer } = await import('./run-server.js');
    setExit(
      await runServer('server', serverOptionValues(opts), io, { dashboardDir: dashboardDistDir }),
    );
  });
  return cmd;
}
