import { Command, InvalidArgumentError } from 'commander';
import { parseDurationMs, SCOPES, type Agent, type Key, type Scope } from '@offload/protocol';
import type { CliIo } from '../cli-io.js';
import { connectionFor, withClient } from './connection.js';
import { age, json, table } from './format.js';

function agentRow(a: Agent): string[] {
  const gpus = a.resources.gpus.length;
  return [
    a.id,
    a.name,
    a.state,
    `${a.resources.cpu - a.free.cpu}/${a.resources.cpu}`,
    `${Math.round((a.resources.memoryMb - a.free.memoryMb) / 1024)}/${Math.round(a.resources.memoryMb / 1024)} GiB`,
    gpus ? `${gpus - a.free.gpus.length}/${gpus}` : '-',
    String(a.runningJobs.length),
    a.capabilities.join(',') || '-',
  ];
}

function keyRow(k: Key): string[] {
  return [
    k.id,
    k.kind,
    k.name,
    k.scopes?.join(',') ?? '-',
    k.queues?.join(',') ?? '-',
    k.revokedAt
      ? 'revoked'
      : k.expiresAt && Date.parse(k.expiresAt) < Date.now()
        ? 'expired'
        : 'active',
    age(k.createdAt),
  ];
}

function scopes(text: string): Scope[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of list)
    if (!(SCOPES as readonly string[]).includes(s))
      throw new InvalidArgumentError(`unknown scope "${s}" (one of ${SCOPES.join(', ')})`);
  if (list.length === 0) throw new InvalidArgumentError('at least one scope');
  return list as Scope[];
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function durationSec(text: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < 1000)
    throw new InvalidArgumentError('expected a duration of at least 1s, like 30m, 2h or 7d');
  return Math.round(ms / 1000);
}

export function adminCommands(io: CliIo): Command[] {
  const agents = new Command('agents')
    .description('List agents.')
    .option('--json', 'print the agents as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withClient(cmd, io, async (off) => {
        const list = await off.agents.list();
        if (opts.json) return io.stdout(json(list));
        io.stdout(
          table(
            ['ID', 'NAME', 'STATE', 'CPU', 'MEMORY', 'GPUS', 'JOBS', 'CAPABILITIES'],
            list.map(agentRow),
          ),
        );
      });
    });

  const drain = new Command('drain')
    .description('Stop giving an agent new jobs; its running jobs finish.')
    .argument('<agent>', 'agent id or name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withClient(cmd, io, async (off) => {
        const a = await off.agents.drain(name);
        io.stdout(`${a.name} ${a.state}\n`);
      });
    });

  const resume = new Command('resume')
    .description('Let a drained agent take jobs again.')
    .argument('<agent>', 'agent id or name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withClient(cmd, io, async (off) => {
        const a = await off.agents.resume(name);
        io.stdout(`${a.name} ${a.state}\n`);
      });
    });

  const keys = new Command('keys').description('API keys: create, list, revoke.');
  keys
    .command('create')
    .description('Create an API key; prints the secret alone on stdout.')
    .requiredOption('--name <name>', 'a name for the key')
    .requiredOption('--scope <scopes>', `comma-separated scopes (${SCOPES.join(', ')})`, scopes)
    .option('--queue <queue>', 'limit the key to this queue (repeatable)', collect)
    .option('--json', 'print the key as JSON (the secret as `token`)')
    .action(
      async (
        opts: { name: string; scope: Scope[]; queue?: string[]; json?: boolean },
        cmd: Command,
      ) => {
        await withClient(cmd, io, async (off) => {
          const key = await off.keys.create({
            kind: 'api-key',
            name: opts.name,
            scopes: opts.scope,
            ...(opts.queue && { queues: opts.queue }),
          });
          io.stdout(opts.json ? json(key) : `${key.token}\n`);
        });
      },
    );
  keys
    .command('list')
    .description('List API keys and join tokens (never their secrets).')
    .option('--json', 'print the keys as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withClient(cmd, io, async (off) => {
        const list = await off.keys.list();
        if (opts.json) return io.stdout(json(list));
        io.stdout(
          table(['ID', 'KIND', 'NAME', 'SCOPES', 'QUEUES', 'STATUS', 'AGE'], list.map(keyRow)),
        );
      });
    });
  keys
    .command('revoke')
    .description('Revoke an API key or join token by id.')
    .argument('<id>', 'key id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await withClient(cmd, io, async (off) => {
        const k = await off.keys.revoke(id);
        io.stdout(`${k.id} revoked\n`);
      });
    });

  const tokens = new Command('tokens').description('Join tokens for agents.');
  tokens
    .command('create')
    .description('Create a join token; prints the secret alone on stdout.')
    .option('--name <name>', 'a name for the token', 'join-token')
    .option('--ttl <duration>', 'valid for this long (e.g. 1h, 7d)', durationSec)
    .option('--single-use', 'valid for one registration only')
    .option('--json', 'print the token as JSON (the secret as `token`)')
    .action(
      async (
        opts: { name: string; ttl?: number; singleUse?: boolean; json?: boolean },
        cmd: Command,
      ) => {
        await withClient(cmd, io, async (off) => {
          const t = await off.keys.create({
            kind: 'join-token',
            name: opts.name,
            ...(opts.ttl !== undefined && { ttlSec: opts.ttl }),
            ...(opts.singleUse && { singleUse: true }),
          });
          io.stdout(opts.json ? json(t) : `${t.token}\n`);
        });
      },
    );

  const whoami = new Command('whoami')
    .description('Show the server and the credential this CLI uses: its kind, scopes and limits.')
    .option('--json', 'print it as JSON (with the server URL as `server`)')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const server = connectionFor(cmd, io).url;
      await withClient(cmd, io, async (off) => {
        const me = await off.whoami();
        if (opts.json) return io.stdout(json({ server, ...me }));
        const rows: Array<[string, string]> = [
          ['server', server],
          ['credential', me.kind === 'admin' ? 'the admin token' : `API key ${me.name} (${me.id})`],
          ['scopes', me.scopes.join(', ')],
        ];
        if (me.queues) rows.push(['queues', me.queues.join(', ')]);
        if (me.capabilities) rows.push(['capabilities', me.capabilities.join(', ')]);
        io.stdout(rows.map(([k, v]) => `${`${k}:`.padEnd(14)}${v}\n`).join(''));
      });
    });

  return [agents, drain, resume, keys, tokens, whoami];
}
