import { Command, Option } from 'commander';
import type { TaskRegistry } from '@offload/agent';
import { parseDurationMs } from '@offload/protocol';
import { CliError, type CliIo } from '../cli-io.js';
import { cliVersion } from '../version.js';

interface AgentFlags {
  server?: string[];
  join?: string;
  name?: string;
  cap?: string[];
  pool?: string[];
  tier?: string;
  maxJobs?: string;
  cpuThreshold?: string;
  tasks?: string;
  stateDir?: string;
  drainTimeout?: string;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

function intFlag(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min)
    throw new CliError(`${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
  return n;
}

export function agentCommand(io: CliIo, setExit: (code: number) => void): Command {
  const cmd = new Command('agent')
    .description(
      'Run an agent: register with the server, take jobs that fit, run them, report back.',
    )
    .addOption(
      new Option(
        '--server <url>',
        'server URL; repeat for failover (default $OFFLOAD_URL)',
      ).argParser(collect),
    )
    .option('--join <token>', 'join token, needed on first start (default $OFFLOAD_JOIN_TOKEN)')
    .option('--name <name>', 'unique agent name (default: the stored one, else the hostname)')
    .addOption(
      new Option('--cap <capability>', 'a capability to advertise; repeatable').argParser(collect),
    )
    .addOption(new Option('--pool <pool>', 'a pool to join; repeatable').argParser(collect))
    .option('--tier <n>', 'preference tier: higher tiers get work first')
    .option('--max-jobs <n>', 'jobs run at once (default: the CPU count)')
    .option('--cpu-threshold <percent>', 'take no new work while the CPU load is above this')
    .option('--tasks <module>', 'ES module whose default export maps task names to handlers')
    .option(
      '--state-dir <dir>',
      'credential, outbox and running jobs (default $XDG_STATE_HOME/offload/agent or ~/.local/state/offload/agent)',
    )
    .option('--drain-timeout <duration>', 'on SIGTERM, wait this long for running jobs', '30s')
    .action(async (flags: AgentFlags) => {
      setExit(await runAgent(flags, io));
    });
  return cmd;
}

async function runAgent(flags: AgentFlags, io: CliIo): Promise<number> {
  // Loaded here, not at the top: the other commands start without the agent's code.
  const { AgentStartError, createAgent, defaultStateDir, loadTaskModule } =
    await import('@offload/agent');
  const servers = flags.server?.length
    ? flags.server
    : io.env.OFFLOAD_URL
      ? [io.env.OFFLOAD_URL]
      : [];
  if (servers.length === 0) throw new CliError('no server: pass --server URL (or set OFFLOAD_URL)');
  const drainMs = parseDurationMs(flags.drainTimeout ?? '30s');
  if (drainMs === undefined)
    throw new CliError(`--drain-timeout: ${JSON.stringify(flags.drainTimeout)} is not a duration`);
  const cpuThreshold =
    flags.cpuThreshold === undefined ? undefined : Number(flags.cpuThreshold.replace(/%$/, ''));
  if (cpuThreshold !== undefined && !(cpuThreshold > 0 && cpuThreshold <= 100))
    throw new CliError(
      `--cpu-threshold must be a percentage in (0, 100], got ${flags.cpuThreshold}`,
    );
  let tasks: TaskRegistry | undefined;
  if (flags.tasks !== undefined) {
    try {
      tasks = await loadTaskModule(flags.tasks);
    } catch (err) {
      throw new CliError(err instanceof Error ? err.message : String(err), undefined, {
        cause: err,
      });
    }
  }

  let onSignal!: (signal: NodeJS.Signals | Error) => void;
  const received = new Promise<NodeJS.Signals | Error>((resolve) => (onSignal = resolve));
  const agent = createAgent({
    onFatal: (err) => onSignal(err),
    servers,
    joinToken: flags.join ?? io.env.OFFLOAD_JOIN_TOKEN,
    name: flags.name,
    capabilities: flags.cap ?? [],
    pools: flags.pool ?? [],
    tier: intFlag('--tier', flags.tier, -1000),
    maxJobs: intFlag('--max-jobs', flags.maxJobs, 1),
    cpuThreshold,
    tasks,
    stateDir: flags.stateDir ?? defaultStateDir(io.env),
    version: cliVersion(),
    log: (line) => io.stderr(`offload agent: ${line}\n`),
  });

  // Listening before start-up, so a SIGTERM while registering still stops cleanly.
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    try {
      const starting = agent.start();
      starting.catch(() => undefined); // a stop during start-up rejects it: already handled
      await Promise.race([starting, received]);
    } catch (err) {
      if (err instanceof AgentStartError)
        throw new CliError(err.message, undefined, { cause: err });
      throw err;
    }
    const signal = await received;
    if (signal instanceof Error) throw new CliError(signal.message, undefined, { cause: signal });
    io.stderr(`offload agent: ${signal} received, stopping (drain up to ${drainMs} ms)\n`);
    await agent.stop({ drainMs });
    io.stderr('offload agent: stopped\n');
    return 0;
  } catch (err) {
    await agent.stop({ drainMs: 0 }).catch(() => undefined);
    throw err;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
