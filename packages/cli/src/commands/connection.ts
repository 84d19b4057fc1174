import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Offload,
  OffloadApiError,
  OffloadNetworkError,
  OffloadTimeoutError,
} from '@offload/client';
import type { Command } from 'commander';
import { CliError, type CliIo } from '../cli-io.js';

/** What the CLI needs to talk to a server. */
export interface Connection {
  url: string;
  apiKey: string | undefined;
}

/** The CLI config file: OFFLOAD_CONFIG_FILE, else $XDG_CONFIG_HOME/offload/config.json. */
export function configFilePath(env: NodeJS.ProcessEnv): string {
  if (env.OFFLOAD_CONFIG_FILE) return env.OFFLOAD_CONFIG_FILE;
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'offload', 'config.json');
}

function readConfigFile(file: string): Partial<{ url: string; apiKey: string }> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object') throw new Error('not an object');
    const { url, apiKey } = parsed as Record<string, unknown>;
    return {
      ...(typeof url === 'string' && { url }),
      ...(typeof apiKey === 'string' && { apiKey }),
    };
  } catch (err) {
    throw new CliError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Writes the config (mode 0600, its directory 0700); keeps other fields already there. */
export function writeConfigFile(file: string, conn: { url: string; apiKey?: string }): void {
  let existing: Record<string, unknown> = {};
  try {
    existing = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    existing = {};
  }
  const next: Record<string, unknown> = { ...existing, url: conn.url };
  if (conn.apiKey !== undefined) next.apiKey = conn.apiKey;
  else delete next.apiKey;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

/** Flags, then OFFLOAD_URL / OFFLOAD_API_KEY, then the config file. */
export function resolveConnection(
  flags: { url?: string | undefined; key?: string | undefined },
  env: NodeJS.ProcessEnv,
): Connection {
  const file = configFilePath(env);
  const fromFile = readConfigFile(file);
  const url = flags.url ?? (env.OFFLOAD_URL || undefined) ?? fromFile.url;
  if (!url)
    throw new CliError(
      'no server configured: run `offload login URL --key KEY` or set OFFLOAD_URL',
    );
  const apiKey = flags.key ?? (env.OFFLOAD_API_KEY || undefined) ?? fromFile.apiKey;
  return { url: url.replace(/\/+$/, ''), apiKey };
}

const text = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);

/** Turns an SDK error into one line for the terminal (exit 125); anything else passes as is. */
export function describeError(err: unknown, url: string): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof OffloadNetworkError)
    return new CliError(err.message, undefined, { cause: err });
  if (err instanceof OffloadTimeoutError) return new CliError(err.message, 124, { cause: err });
  if (err instanceof OffloadApiError) {
    const msg = err.message;
    switch (err.status) {
      case 401:
        return new CliError(`key rejected by ${url}: ${msg}`, undefined, { cause: err });
      case 403:
        return new CliError(`forbidden: ${msg}`, undefined, { cause: err });
      case 400: {
        const fields = Array.isArray(err.details)
          ? (err.details as { field?: unknown; message?: unknown }[])
              .map((d) => `${text(d.field, '?')}: ${text(d.message, 'invalid')}`)
              .join('; ')
          : '';
        return new CliError(`invalid request: ${fields || msg}`, undefined, { cause: err });
      }
      default:
        return new CliError(msg, undefined, { cause: err });
    }
  }
  return err;
}

/** The connection for a subcommand, from its global `--url` / `--key`. */
export function connectionFor(cmd: Command, io: CliIo): Connection {
  const opts = cmd.optsWithGlobals<{ url?: string; key?: string }>();
  return resolveConnection(opts, io.env);
}

/** Runs `fn` with a client for the command's server; closes it and maps SDK errors. */
export async function withClient<T>(
  cmd: Command,
  io: CliIo,
  fn: (off: Offload) => Promise<T>,
): Promise<T> {
  const conn = connectionFor(cmd, io);
  const off = new Offload({ url: conn.url, apiKey: conn.apiKey, retries: 1 });
  try {
    return await fn(off);
  } catch (err) {
    throw describeError(err, conn.url);
  } finally {
    await off.close().catch(() => undefined);
  }
}
