import { Command, CommanderError } from 'commander';
import { CliError, EXIT_OFFLOAD_FAILED, processIo, type CliIo } from './cli-io.js';
import { adminCommands } from './commands/admin-commands.js';
import { agentCommand } from './commands/agent-command.js';
import { jobCommands } from './commands/job-commands.js';
import { loginCommand } from './commands/login-command.js';
import { runCommand } from './commands/run-command.js';
import { serverCommand } from './commands/server-command.js';
import { startCommand } from './commands/start-command.js';
import { cliVersion } from './version.js';

/**
 * Runs the `offload` command with `argv` (without node and script); resolves to the exit
 * code. Failures of offload itself print one line on stderr and give 125 (SPEC §5); the
 * stack trace only with `--debug` (or OFFLOAD_DEBUG=1).
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  let exitCode = 0;
  const setExit = (code: number) => {
    exitCode = code;
  };
  const program = new Command('offload')
    .description('Send compute work to a fleet of machines.')
    .version(cliVersion(), '-V, --version', 'print the version')
    .option('--debug', 'print stack traces with errors')
    .option('--url <url>', 'server URL (else OFFLOAD_URL, else the config from `offload login`)')
    .option('--key <key>', 'API key (else OFFLOAD_API_KEY, else the config from `offload login`)')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (text, write) =>
        write(
          `offload: ${text
            .replace(/^error: /, '')
            .trim()
            .replace(/\s*\n\s*/g, ' ')}\n`,
        ),
    });
  program.addCommand(startCommand(io, setExit));
  program.addCommand(serverCommand(io, setExit));
  program.addCommand(agentCommand(io, setExit));
  program.addCommand(loginCommand(io));
  program.addCommand(runCommand(io, setExit));
  for (const cmd of jobCommands(io, setExit)) program.addCommand(cmd);
  for (const cmd of adminCommands(io)) program.addCommand(cmd);
  // Subcommands report their own usage errors through the same output and override.
  const configure = (cmds: readonly Command[]) => {
    for (const cmd of cmds) {
      cmd.exitOverride().configureOutput(program.configureOutput()).showSuggestionAfterError();
      configure(cmd.commands);
    }
  };
  configure(program.commands);

  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors were printed already.
      return err.exitCode === 0 ? 0 : EXIT_OFFLOAD_FAILED;
    }
    const end = argv.indexOf('--');
    const debug =
      (end === -1 ? argv : argv.slice(0, end)).includes('--debug') || io.env.OFFLOAD_DEBUG === '1';
    reportError(err, io, debug);
    return err instanceof CliError ? err.exitCode : EXIT_OFFLOAD_FAILED;
  }
}

function reportError(err: unknown, io: CliIo, debug: boolean): void {
  const message = err instanceof Error ? err.message : String(err);
  io.stderr(`offload: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  if (!debug) return;
  for (let e: unknown = err; e instanceof Error; e = e.cause)
    io.stderr(`${e.stack ?? e.message}\n`);
}
