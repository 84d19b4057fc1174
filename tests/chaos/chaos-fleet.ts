import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Offload } from '@offload/client';
import {
  describeWithPostgres,
  dropSchema,
  freshSchemaName,
  type PostgresTestEnv,
} from '@offload/store/testing';
import { afterEach, beforeEach, describe, expect } from 'vitest';
import type { JobState, JobSubmit } from '@offload/protocol';
import {
  assertBuilt,
  CliProcesses,
  cleanEnv,
  type CliProcess,
} from '../../packages/cli/test/cli-process.js';

export const ADMIN = 'offa_chaos_test_admin_token';

/** A free loopback port, so a restarted server comes back where its agents look for it. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/**
 * A fresh fleet for each test of the suite it is declared in — its own directory and port,
 * the server started with `serverArgs()` — closed and removed after the test.
 */
export function fleetPerTest(serverArgs: () => string[], use: (fleet: ChaosFleet) => void): void {
  let fleet: ChaosFleet | undefined;
  beforeEach(async () => {
    assertBuilt();
    fleet = new ChaosFleet(
      mkdtempSync(path.join(tmpdir(), 'offload-chaos-')),
      await freePort(),
      serverArgs(),
    );
    use(fleet);
  });
  afterEach(async () => {
    if (!fleet) return;
    await fleet.close();
    rmSync(fleet.dir, { recursive: true, force: true });
  });
}

/**
 * Declares a chaos suite once per store: SQLite (the server's own file) and a fresh
 * PostgreSQL schema for each test (skipped with one line without PostgreSQL, failing under
 * CI=true). `body` gets the server's store flags for the test that runs.
 */
export function describeOnEachStore(
  pg: PostgresTestEnv,
  name: string,
  body: (storeArgs: () => string[]) => void,
): void {
  describe(`${name} (SQLite)`, () => body(() => []));
  describeWithPostgres(pg, `${name} (PostgreSQL)`, () => {
    let schema = '';
    beforeEach(() => {
      schema = freshSchemaName();
    });
    // Registered first, so it runs after the body's own afterEach (the fleet closed).
    afterEach(() => dropSchema(pg.url, schema));
    body(() => ['--store', postgresStoreUrl(pg.url, schema)]);
  });
}

/**
 * The `--store` of a server on the test PostgreSQL (`base`, from postgresTestEnv()): in
 * `schema` (the URL's `schema` parameter), and through a proxy on `port` if given.
 */
export function postgresStoreUrl(base: string, schema: string, port?: number): string {
  const url = new URL(base);
  if (port !== undefined) {
    url.hostname = '127.0.0.1';
    url.port = String(port);
  }
  url.searchParams.set('schema', schema);
  return url.toString();
}

/**
 * Real processes of the built CLI: one `offload server` on a fixed port over a store in `dir`,
 * agents with their own state directories, and a runs file every command job appends its id
 * and attempt to — the ground truth for "ran exactly once", independent of what the server says.
 */
export class ChaosFleet {
  readonly procs = new CliProcesses();
  readonly runsFile: string;
  server: CliProcess | undefined;
  url = '';
  off!: Offload;
  private join = '';

  constructor(
    readonly dir: string,
    readonly port: number,
    private readonly serverArgs: string[] = [],
  ) {
    this.runsFile = path.join(dir, 'runs.log');
  }

  async startServer(): Promise<CliProcess> {
    const server = this.procs.run(
      [
        'server',
        '--host',
        '127.0.0.1',
        '--port',
        String(this.port),
        '--data-dir',
        path.join(this.dir, 'server'),
        ...this.serverArgs,
      ],
      { env: cleanEnv({ OFFLOAD_ADMIN_TOKEN: ADMIN }) },
    );
    this.url = (await server.waitForStderr(/listening on (http:\/\/\S+)/))[1]!;
    this.server = server;
    // No retries: the tests decide what to do with a failure (a crash is the point).
    this.off ??= new Offload({ url: this.url, apiKey: ADMIN, retries: 0 });
    this.join ||= (await this.off.keys.create({ kind: 'join-token', name: 'chaos' })).token;
    return server;
  }

  async killServer(): Promise<void> {
    this.server?.child.kill('SIGKILL');
    await this.server?.exited;
  }

  /** An agent on `url` (default the server's) with its own state directory under `dir`. */
  async startAgent(name: string, args: string[] = [], url = this.url): Promise<CliProcess> {
    const agent = this.procs.run(
      [
        'agent',
        '--server',
        url,
        '--join',
        this.join,
        '--name',
        name,
        '--state-dir',
        path.join(this.dir, `agent-${name}`),
        '--drain-timeout',
        '1s',
        ...args,
      ],
      { env: cleanEnv() },
    );
    await agent.waitForStderr(/registered with/);
    return agent;
  }

  /** A command job that records its run, then sleeps `sleepSec`. */
  recordingJob(name: string, sleepSec: number, extra: Partial<JobSubmit> = {}): JobSubmit {
    return {
      name,
      idempotencyKey: name,
      command: [
        'sh',
        '-c',
        `echo "$OFFLOAD_JOB_ID $OFFLOAD_ATTEMPT" >> "$RUNS"; sleep ${sleepSec}`,
      ],
      env: { RUNS: this.runsFile },
      requires: { cpu: 0.1 },
      ...extra,
    };
  }

  /** Job id → the attempts that started, from the runs file. */
  runs(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    let text = '';
    try {
      text = readFileSync(this.runsFile, 'utf8');
    } catch {
      return out;
    }
    for (const line of text.split('\n')) {
      const [id, attempt] = line.split(' ');
      if (!id) continue;
      out.set(id, [...(out.get(id) ?? []), Number(attempt)]);
    }
    return out;
  }

  /** Counts by state once every job of `total` is terminal (polls the stats route). */
  async allTerminal(total: number, timeoutMs: number): Promise<Record<JobState, number>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const { counts } = await this.off.stats();
        const done = counts.succeeded + counts.failed + counts.canceled + counts.expired;
        if (done >= total) return counts;
        if (Date.now() > deadline)
          throw new Error(`not all ${total} jobs ended in time: ${JSON.stringify(counts)}`);
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * The promise every fault case checks: all `total` jobs succeeded, each acknowledged one
   * ran exactly once, as its first attempt (runs counted, not states).
   */
  async expectEachRanOnce(
    acked: Iterable<string>,
    total: number,
    timeoutMs: number,
  ): Promise<void> {
    const counts = await this.allTerminal(total, timeoutMs);
    expect(counts.succeeded).toBe(total);
    const runs = this.runs();
    expect([...runs].filter(([, attempts]) => attempts.length !== 1)).toEqual([]);
    for (const id of acked) expect(runs.get(id), id).toEqual([1]);
    expect(runs.size).toBe(total);
  }

  async close(): Promise<void> {
    await this.off?.close();
    await this.procs.killAll();
  }
}
