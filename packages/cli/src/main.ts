/** Runs the `offload` command with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  process.stderr.write(`offload: no commands yet (${argv.join(' ')})\n`);
  return 1;
}
