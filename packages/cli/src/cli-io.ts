/** Where a command writes and what it reads from its surroundings; tests pass their own. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Whether stderr is a terminal (waiting commands then show a status line there). */
  stderrIsTTY?: boolean;
  /** The width of that terminal now (it may be resized); undefined or 0 when unknown. */
  stderrColumns?: () => number | undefined;
  /** Whether stdout is a terminal; unknown counts as one (output then ends the status line). */
  stdoutIsTTY?: boolean;
}

export function processIo(): CliIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    stderrIsTTY: process.stderr.isTTY === true,
    stderrColumns: () => process.stderr.columns,
    stdoutIsTTY: process.stdout.isTTY === true,
  };
}

/** SPEC §5: 125 when offload itself failed (bad config, server unreachable, rejected, ...). */
export const EXIT_OFFLOAD_FAILED = 125;

/** A failure with a message meant for the terminal as is, and the exit code to leave with. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_OFFLOAD_FAILED,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
