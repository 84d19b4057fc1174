import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { request } from 'undici';
import { describeWithPostgres, postgresTestEnv } from '@offload/store/testing';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, cleanEnv, CliProcesses, type CliProcess } from './cli-process.js';

// `offload server` / `offload start` as a user runs them: the built CLI in a real process.

const LISTENING = /offload server listening on (http:\/\/\S+) \(store: sqlite:(.+)\)\n/;
const NEW_TOKEN = /admin token \(shown once, also saved to (.+)\): (offa_\S+)\n/;

let tmp: string;
let dataDir: string;
let env: NodeJS.ProcessEnv;
const procs = new CliProcesses();

beforeAll(assertBuilt);
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-cli-'));
  dataDir = path.join(tmp, 'data');
  // Nothing of the developer's own offload set-up leaks in: no OFFLOAD_*, XDG dirs in tmp.
  env = cleanEnv({
    XDG_DATA_HOME: path.join(tmp, 'xdg-data'),
    XDG_CONFIG_HOME: path.join(tmp, 'xdg-config'),
  });
});
afterEach(async () => {
  await procs.killAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function server(args: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): CliProcess {
  return procs.run(['server', '--port', '0', '--data-dir', dataDir, ...args], {
    cwd: tmp,
    env: { ...env, ...extraEnv },
  });
}

async function listening(p: CliProcess): Promise<string> {
  const [, url] = await p.waitForStderr(LISTENING);
  return url!;
}

async function get(url: string, token?: string): Promise<number> {
  const res = await request(
    url,
    token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
  );
  await res.body.dump();
  return res.statusCode;
}

/** A failure is one line on stderr naming the problem, with no stack trace. */
function oneLine(text: string): string {
  const lines = text.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(text).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

describe('offload server', () => {
  it('prints the URL and a new admin token once; health, readiness and the token work; SIGTERM exits 0', async () => {
    const first = server();
    const url = await listening(first);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:0$/);
    expect(first.stderr).toContain(`(store: sqlite:${path.join(dataDir, 'offload.db')})`);
    const [, file, token] = await first.waitForStderr(NEW_TOKEN);
    expect(file).toBe(path.join(dataDir, 'admin-token'));
    expect(first.stderr.split(token!)).toHaveLength(2); // printed exactly once

    expect(await get(`${url}/healthz`)).toBe(200);
    expect(await get(`${url}/readyz`)).toBe(200);
    expect(fs.statSync(file!).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    const saved = fs.readFileSync(file!, 'utf8').trim();
    expect(saved).toBe(token);
    expect(await get(`${url}/api/v1/jobs`, saved)).toBe(200);
    expect(await get(`${url}/api/v1/jobs`)).toBe(401);

    first.child.kill('SIGTERM');
    expect(await first.waitForExit(5_000)).toEqual({ code: 0, signal: null });
    expect(first.stderr).toContain('SIGTERM received, shutting down');
    // The structured log is JSON lines on stdout, and the secret is not in it.
    const lines = first.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    expect(first.stdout).not.toContain(token);

    // Second start on the same data dir: no new token, and the saved one still works.
    const second = server();
    const url2 = await listening(second);
    await second.waitForStderr(/admin token: in .*admin-token\n/);
    expect(second.stderr).not.toMatch(/shown once|offa_/);
    expect(await get(`${url2}/api/v1/jobs`, saved)).toBe(200);
    second.child.kill('SIGINT');
    expect(await second.waitForExit(5_000)).toEqual({ code: 0, signal: null });
  });

  it('refuses a second server on the same data dir: one line, exit 125, the first unharmed', async () => {
    const first = server();
    const url = await listening(first);
    const second = server();
    expect((await second.waitForExit()).code).toBe(125);
    const line = oneLine(second.stderr);
    expect(line).toMatch(
      /^offload: the SQLite store .* is locked: another offload server is using it/,
    );
    expect(line).toContain(path.join(dataDir, 'offload.db'));
    expect(await get(`${url}/readyz`)).toBe(200);
  });

  it('uses OFFLOAD_ADMIN_TOKEN as the admin token, printing and saving nothing', async () => {
    const p = server([], { OFFLOAD_ADMIN_TOKEN: 'xyz' });
    const url = await listening(p);
    await p.waitForStderr(/admin token: from OFFLOAD_ADMIN_TOKEN\n/);
    expect(await get(`${url}/api/v1/jobs`, 'xyz')).toBe(200);
    expect(await get(`${url}/api/v1/jobs`, 'xyzz')).toBe(401);
    expect(p.stderr).not.toContain('shown once');
    expect(fs.existsSync(path.join(dataDir, 'admin-token'))).toBe(false);
    expect(p.stdout).not.toContain('xyz');
  });

  it('names a bad flag value in one line and exits 125; --debug adds the stack', async () => {
    const p = server(['--lease-timeout', 'banana']);
    expect((await p.waitForExit()).code).toBe(125);
    const line = oneLine(p.stderr);
    expect(line).toContain('leaseTimeout');
    expect(line).toContain('--lease-timeout');
    expect(line).toContain('banana');
    expect(fs.existsSync(dataDir)).toBe(false); // nothing created on a bad config

    const debug = server(['--lease-timeout', 'banana', '--debug']);
    expect((await debug.waitForExit()).code).toBe(125);
    expect(debug.stderr).toMatch(/^\s+at /m);
  });

  it('says when the port is in use, exit 125', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as net.AddressInfo).port;
      const p = procs.run(['server', '--port', String(port), '--data-dir', dataDir], {
        cwd: tmp,
        env,
      });
      expect((await p.waitForExit()).code).toBe(125);
      expect(oneLine(p.stderr)).toBe(
        `offload: port ${port} on 127.0.0.1 is already in use: stop the other process, or choose another --port (0 picks a free one)`,
      );
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('an unreachable PostgreSQL store is one line naming it, password hidden, exit 125', async () => {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    const p = server(['--store', 'postgres://offload:s3cret-pw@127.0.0.1:1/offload']);
    expect((await p.waitForExit()).code).toBe(125);
    const line = oneLine(p.stderr);
    expect(line).toMatch(/^offload: cannot open the PostgreSQL store postgres:\/\/offload:/);
    expect(line).toContain('127.0.0.1:1/offload');
    expect(line).toContain('check the --store URL and that the database is running');
    expect(p.stderr).not.toContain('s3cret-pw');
  });
});

describe('offload start', () => {
  it('starts the server with settings from offload.yaml in the working directory', async () => {
    fs.writeFileSync(
      path.join(tmp, 'offload.yaml'),
      'dataDir: from-yaml\nport: 0\nlogLevel: warn\n',
    );
    const p = procs.run(['start'], { cwd: tmp, env });
    const url = await listening(p);
    await p.waitForStderr(NEW_TOKEN);
    expect(p.stderr).toContain(path.join(tmp, 'from-yaml', 'offload.db'));
    expect(await get(`${url}/healthz`)).toBe(200);
    // The CLI config now points at this server with the admin token (0600).
    const configFile = path.join(tmp, 'xdg-config', 'offload', 'config.json');
    const adminToken = fs.readFileSync(path.join(tmp, 'from-yaml', 'admin-token'), 'utf8').trim();
    expect(JSON.parse(fs.readFileSync(configFile, 'utf8'))).toEqual({ url, apiKey: adminToken });
    expect(fs.statSync(configFile).mode & 0o777).toBe(0o600);
    const jobs = procs.run(['jobs', '--json'], { cwd: tmp, env });
    expect((await jobs.waitForExit()).code).toBe(0);
    expect(JSON.parse(jobs.stdout)).toEqual({ jobs: [], nextCursor: null });
    p.child.kill('SIGTERM');
    expect((await p.waitForExit(5_000)).code).toBe(0);
    // logLevel: warn — the info-level "listening" line from Fastify is not logged.
    expect(p.stdout).toBe('');
  });

  it('rejects an unknown key in the config file, listing the known ones', async () => {
    const file = path.join(tmp, 'custom.yaml');
    fs.writeFileSync(file, 'prot: 7070\n');
    const p = procs.run(['start', '--config', file], { cwd: tmp, env });
    expect((await p.waitForExit()).code).toBe(125);
    const line = oneLine(p.stderr);
    expect(line).toContain('prot');
    expect(line).toContain('port, store, storePoolSize, storeStatementTimeout, dataDir');
  });
});

describe('offload (help, version, usage errors)', () => {
  it('npx offload --help works from the repo root', async () => {
    const p = procs.run(['offload', '--help'], { command: ['npx', '--no-install'], env });
    expect((await p.waitForExit()).code).toBe(0);
    expect(p.stdout).toMatch(/Usage: offload/);
    expect(p.stdout).toMatch(/^\s+server\b/m);
    expect(p.stdout).toMatch(/^\s+start\b/m);
  });

  it('--version prints the version; start --help mentions the local agent', async () => {
    const version = procs.run(['--version'], { env });
    expect((await version.waitForExit()).code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);

    const help = procs.run(['start', '--help'], { env });
    expect((await help.waitForExit()).code).toBe(0);
    expect(help.stdout).toContain('--lease-timeout');
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('a local agent');
    expect(help.stdout).toContain('--no-agent');
  });

  it('an unknown option or command is a usage error: one line, exit 125', async () => {
    const option = procs.run(['server', '--prot', '7070'], { env });
    expect((await option.waitForExit()).code).toBe(125);
    expect(oneLine(option.stderr)).toMatch(/^offload: unknown option '--prot'/);

    const command = procs.run(['serve'], { env });
    expect((await command.waitForExit()).code).toBe(125);
    expect(oneLine(command.stderr)).toBe("offload: unknown command 'serve' (Did you mean server?)");
  });
});

const pgEnv = await postgresTestEnv();
describeWithPostgres(pgEnv, 'offload server on PostgreSQL', () => {
  it('runs on a postgres:// store with the pool flags, printing the URL without its password', async () => {
    const schema = `offload_cli_${randomBytes(4).toString('hex')}`;
    const store = new URL(pgEnv.url);
    store.password = 'not-shown-pw'; // trust auth on the test database ignores it
    store.searchParams.set('schema', schema);
    try {
      const p = server([
        '--store',
        store.toString(),
        '--store-pool-size',
        '3',
        '--store-statement-timeout',
        '5s',
      ]);
      const [, url] = await p.waitForStderr(/listening on (http:\/\/\S+) \(store: postgres:/);
      expect(p.stderr).not.toContain('not-shown-pw');
      expect(await get(`${url}/readyz`)).toBe(200);
      p.child.kill('SIGTERM');
      expect((await p.waitForExit()).code).toBe(0);
    } finally {
      const client = new pg.Client({ connectionString: pgEnv.url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  });
});
