import { loadServerConfig, redactStoreUrl, startServer, type RunningServer } from '@offload/server';
import type { CliIo } from '../cli-io.js';
import type { ServerOptionValues } from './server-options.js';

/**
 * Loads the config, starts the server, tells the operator where it is (and the admin
 * token, the one time it is new), then serves until SIGTERM or SIGINT and shuts down
 * gracefully: in-flight requests finish, parked long polls are released, the store is
 * closed. Connections still open after the server's grace period (event streams, log
 * follows) are cut; a second signal cuts them at once. Resolves to the exit code.
 */
export async function runServer(
  name: string,
  options: ServerOptionValues,
  io: CliIo,
  hooks: {
    /** The built dashboard to serve at `/` (packages/dashboard/dist); absent: `/` says how to build it. */
    dashboardDir?: string | undefined;
    /** Runs once the server listens; the function it returns runs before the server closes. */
    afterStart?: (running: RunningServer, dataDir: string) => Promise<() => Promise<void>>;
  } = {},
): Promise<number> {
  const config = loadServerConfig({
    file: options.config,
    env: io.env,
    flags: options.flags,
    cwd: io.cwd,
  });
  // Listening for signals before start-up, so a SIGTERM while starting still ends in a clean close.
  const signal = nextSignal();
  let running: RunningServer;
  try {
    // The server takes the dashboard's directory from its config object (BuildAppOptions): it
    // does not depend on the dashboard package, the CLI does.
    const withDashboard: typeof config & { dashboardDir: string | null } = {
      ...config,
      dashboardDir: hooks.dashboardDir ?? null,
    };
    running = await startServer({ config: withDashboard, env: io.env });
  } catch (err) {
    signal.dispose();
    throw err;
  }

  io.stderr(
    `offload ${name} listening on ${running.url} (store: ${redactStoreUrl(config.store)})\n`,
  );
  const { admin } = running;
  if (admin.created)
    io.stderr(`admin token (shown once, also saved to ${admin.file}): ${admin.token}\n`);
  else if (admin.source === 'env') io.stderr('admin token: from OFFLOAD_ADMIN_TOKEN\n');
  else io.stderr(`admin token: in ${admin.file}\n`);

  let beforeClose: (() => Promise<void>) | undefined;
  try {
    beforeClose = await hooks.afterStart?.(running, config.dataDir);
  } catch (err) {
    signal.dispose();
    await running.close();
    throw err;
  }

  io.stderr(`offload ${name}: ${await signal.received} received, shutting down\n`);
  await beforeClose?.();
  await shutDown(running);
  io.stderr(`offload ${name}: stopped\n`);
  return 0;
}

function nextSignal(): { received: Promise<NodeJS.Signals>; dispose: () => void } {
  let on!: (signal: NodeJS.Signals) => void;
  const dispose = () => {
    process.off('SIGTERM', on);
    process.off('SIGINT', on);
  };
  const received = new Promise<NodeJS.Signals>((resolve) => {
    on = (signal) => {
      dispose();
      resolve(signal);
    };
  });
  process.on('SIGTERM', on);
  process.on('SIGINT', on);
  return { received, dispose };
}

async function shutDown(running: RunningServer): Promise<void> {
  const cut = () => running.app.server.closeAllConnections();
  process.once('SIGTERM', cut);
  process.once('SIGINT', cut);
  try {
    await running.close();
  } finally {
    process.off('SIGTERM', cut);
    process.off('SIGINT', cut);
  }
}
