import type { Command } from 'commander';
import type { ConfigFlags, ConfigKey } from '@offload/server';

/**
 * The server's flags, shared by `offload server` and `offload start`. No commander
 * defaults: a default here would hide the file and the environment, which come first;
 * the defaults live in one place, `resolveServerConfig`, and are only quoted in the help.
 * `--metrics-token` is left out on purpose: a secret on the command line shows in `ps`.
 */
const SERVER_FLAGS: Array<{ key: ConfigKey; flag: string; help: string }> = [
  {
    key: 'store',
    flag: '--store <store>',
    help: 'sqlite:PATH or postgres://... (default sqlite:<data dir>/offload.db)',
  },
  {
    key: 'storePoolSize',
    flag: '--store-pool-size <n>',
    help: "PostgreSQL: connections in this server's pool (default 10)",
  },
  {
    key: 'storeStatementTimeout',
    flag: '--store-statement-timeout <duration>',
    help: 'PostgreSQL: cancel statements running longer; 0 = never (default 30s)',
  },
  {
    key: 'port',
    flag: '--port <port>',
    help: 'port to listen on; 0 picks a free one (default 7070)',
  },
  { key: 'host', flag: '--host <host>', help: 'address to listen on (default 127.0.0.1)' },
  {
    key: 'dataDir',
    flag: '--data-dir <dir>',
    help: 'data directory (default $OFFLOAD_HOME, else ~/.local/share/offload)',
  },
  {
    key: 'leaseTimeout',
    flag: '--lease-timeout <duration>',
    help: 'how long an agent may go silent before its jobs are taken back (default 30s)',
  },
  {
    key: 'tierGrace',
    flag: '--tier-grace <duration>',
    help: 'how long lower-tier agents leave work for a free higher tier (default 2s)',
  },
  {
    key: 'retention',
    flag: '--retention <duration>',
    help: 'how long finished jobs are kept (default 7d)',
  },
  {
    key: 'logCap',
    flag: '--log-cap <size>',
    help: 'output kept per job, tail first (default 10MiB)',
  },
  { key: 'bodyLimit', flag: '--body-limit <size>', help: 'largest request body (default 1MiB)' },
  {
    key: 'batchBodyLimit',
    flag: '--batch-body-limit <size>',
    help: 'largest batch submit body (default 32MiB)',
  },
  {
    key: 'maxClaimWait',
    flag: '--max-claim-wait <duration>',
    help: 'longest long poll an agent may ask for (default 30s)',
  },
  {
    key: 'rateLimit',
    flag: '--rate-limit <n>',
    help: 'requests per second per API key; 0 = no limit (default 1000)',
  },
  {
    key: 'streamsPerKey',
    flag: '--streams-per-key <n>',
    help: 'open event and log-follow streams per credential (default 32)',
  },
  {
    key: 'logLevel',
    flag: '--log-level <level>',
    help: 'fatal, error, warn, info, debug, trace or silent (default info)',
  },
];

export function addServerOptions(cmd: Command): Command {
  cmd.option(
    '--config <file>',
    'config file (default $OFFLOAD_CONFIG, else ./offload.yaml when present)',
  );
  for (const f of SERVER_FLAGS) cmd.option(f.flag, f.help);
  return cmd;
}

export interface ServerOptionValues {
  config?: string;
  flags: ConfigFlags;
}

/** Commander camel-cases `--lease-timeout` to `leaseTimeout`, which is the config key. */
export function serverOptionValues(opts: Record<string, unknown>): ServerOptionValues {
  const flags: ConfigFlags = {};
  for (const { key } of SERVER_FLAGS) {
    const v = opts[key];
    if (typeof v === 'string') flags[key] = v;
  }
  return typeof opts.config === 'string' ? { config: opts.config, flags } : { flags };
}
