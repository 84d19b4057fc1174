import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { dashboardBuilt, dashboardDistDir } from '@offload/dashboard';
import type { KeyCreated } from '@offload/protocol';
import type { RunningServer } from '@offload/server';
import { CliError, type CliIo } from '../cli-io.js';
import { cliVersion } from '../version.js';
import { configFilePath, writeConfigFile } from './connection.js';
import { addServerOptions, serverOptionValues } from './server-options.js';

/** How long `offload start` lets the local agent's jobs finish on SIGTERM before handing them back. */
const LOCAL_DRAIN_MS = 10_000;

export function startCommand(io: CliIo, setExit: (code: number) => void): Command {
  const cmd = new Command('start')
    .description(
      'Run offload on this machine with zero config: the server with its dashboard, and a local agent.',
    )
    .option('--no-agent', 'start the server only')
    .addHelpText(
      'after',
      '\nTakes the same options as `offload server`. On first start it creates the data directory and\n' +
        'prints the admin token once (also saved to <data dir>/admin-token). The local agent keeps its\n' +
        'credential in <data dir>/agent; on first start it joins with a single-use token made for it.',
    );
  addServerOptions(cmd).action(async (opts: Record<string, unknown>) => {
    const withAgent = opts.agent !== false;
    // Loaded here, not at the top: every other command starts without the server's code.
    const { runServer } = await import('./run-server.js');
    setExit(
      await runServer('server', serverOptionValues(opts), io, {
        dashboardDir: dashboardDistDir,
        afterStart: async (running, dataDir) => {
          saveCliConfig(running, io);
          io.stderr(
            dashboardBuilt()
              ? `dashboard: ${running.url}/ (sign in with the admin token)\n`
              : `dashboard: not built (run \`npm run build\` in the offload repository); the API is at ${running.url}/api/v1\n`,
          );
          return withAgent ? startLocalAgent(running, dataDir, io) : async () => undefined;
        },
      }),
    );
  });
  return cmd;
}

/** SPEC §5: `offload start` writes the CLI config, so `offload run` works with no set-up. */
function saveCliConfig(running: RunningServer, io: CliIo): void {
  const file = configFilePath(io.env);
  try {
    writeConfigFile(file, { url: running.url, apiKey: running.admin.token });
    io.stderr(`CLI config (server URL and admin token) saved to ${file}\n`);
  } catch (err) {
    io.stderr(
      `offload start: could not write the CLI config ${file}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
  }
}

async function startLocalAgent(
  running: RunningServer,
  dataDir: string,
  io: CliIo,
): Promise<() => Promise<void>> {
  const stateDir = path.join(dataDir, 'agent');
  const joinToken = existsSync(path.join(stateDir, 'agent.json'))
    ? undefined
    : await createJoinToken(running);
  const { createAgent, defaultAgentName } = await import('@offload/agent');
  const agent = createAgent({
    servers: [running.url],
    joinToken,
    name: defaultAgentName(),
    stateDir,
    version: cliVersion(),
    log: (line) => io.stderr(`offload agent: ${line}\n`),
  });
  try {
    await agent.start();
  } catch (err) {
    await agent.stop({ drainMs: 0 }).catch(() => undefined);
    throw new CliError(
      `the local agent did not start: ${err instanceof Error ? err.message : String(err)}`,
      undefined,
      { cause: err },
    );
  }
  return () => agent.stop({ drainMs: LOCAL_DRAIN_MS });
}

async function createJoinToken(running: RunningServer): Promise<string> {
  const res = await fetch(`${running.url}/api/v1/keys`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${running.admin.token}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ kind: 'join-token', name: 'local-agent', singleUse: true, ttlSec: 600 }),
  });
  if (res.status !== 201)
    throw new CliError(`could not create a join token for the local agent (${res.status})`);
  return ((await res.json()) as KeyCreated).token;
}
