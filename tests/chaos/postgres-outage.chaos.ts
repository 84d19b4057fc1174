import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { OffloadApiError } from '@offload/client';
import type { JobSubmit } from '@offload/protocol';
import {
  describeWithPostgres,
  dropSchema,
  freshSchemaName,
  postgresTestEnv,
} from '@offload/store/testing';
import { readOutbox } from '../../packages/agent/src/daemon/outbox.js';
import { assertBuilt } from '../../packages/cli/test/cli-process.js';
import { ChaosFleet, freePort, postgresStoreUrl } from './chaos-fleet.js';
import { TcpProxy } from './tcp-proxy.js';

/**
 * PostgreSQL unreachable mid-run, through a TCP proxy between the server and the database
 * (the shared PostgreSQL itself is never stopped): with agents running jobs and a client
 * submitting, the database is cut off — refused, or a black hole — for a few seconds. While
 * it is away the server stays up, /readyz says not ready, writes answer 503 NOT_READY (never
 * 500), agents keep their running jobs and keep their reports until they are taken. When it
 * is back the server recovers by itself, and every acknowledged job ran exactly once.
 */
const pg = await postgresTestEnv();

const TOTAL = 240;
const BATCH = 20;
/** How long the database stays away once the server has noticed. */
const OUTAGE_MS = 3_000;

/** The error codes of a store that cannot serve now: the server answers them 503 NOT_READY. */
const STORE_AWAY = /^(NOT_READY|08|57P0|57014|53|ECONNREFUSED|ECONNRESET|ETIMEDOUT)/;

/**
 * The server's log lines with the given message: it logs each 503 for an unavailable store
 * as "store unavailable" with the cause's code, and each 500 (a bug) as "request failed".
 */
function logged(log: string, msg: string): Array<{ code?: string; err?: { code?: string } }> {
  return log
    .split('\n')
    .filter((line) => line.includes(`"msg":"${msg}"`))
    .map((line) => JSON.parse(line) as { code?: string; err?: { code?: string } });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a value (not undefined), for at most `ms`. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describeWithPostgres(pg, 'PostgreSQL unreachable mid-run', () => {
  let fleet: ChaosFleet;
  let proxy: TcpProxy;
  let schema = '';

  beforeEach(async () => {
    assertBuilt();
    const target = new URL(pg.url);
    proxy = await new TcpProxy({
      host: target.hostname,
      port: Number(target.port || 5432),
    }).listen();
    schema = freshSchemaName();
    fleet = new ChaosFleet(mkdtempSync(path.join(tmpdir(), 'offload-chaos-')), await freePort(), [
      // Longer than the outage: no attempt is taken from its agent meanwhile.
      '--lease-timeout',
      '30s',
      '--store',
      postgresStoreUrl(pg.url, schema, proxy.port),
      '--store-pool-size',
      '4',
      // Bounds a black hole's waits: a statement unanswered for 2 s + 2 s counts as lost.
      '--store-statement-timeout',
      '2s',
    ]);
  });
  afterEach(async () => {
    await fleet.close();
    await proxy.close();
    rmSync(fleet.dir, { recursive: true, force: true });
    await dropSchema(pg.url, schema);
  });

  const readyz = async (): Promise<{
    status: number;
    code: string | undefined;
    message: string | undefined;
  }> => {
    const res = await fetch(`${fleet.url}/readyz`);
    const body = (await res.json()) as { error?: { code: string; message: string } };
    return { status: res.status, code: body.error?.code, message: body.error?.message };
  };

  async function outage(cut: () => Promise<void> | void): Promise<void> {
    const server = await fleet.startServer();
    await fleet.startAgent('a1', ['--max-jobs', '8']);
    await fleet.startAgent('a2', ['--max-jobs', '8']);

    const specs: JobSubmit[] = Array.from({ length: TOTAL }, (_, i) =>
      fleet.recordingJob(`outage-${i}`, 0.1 + (i % 4) * 0.05),
    );
    const acked = new Map<string, string>(); // name → id
    const refusals: Array<{ status: number; code: string }> = [];
    // A client submitting all along, before, during and after the outage: a batch that
    // fails is sent again (its idempotency keys make that safe); only acknowledged submits count.
    const submitting = (async () => {
      for (let from = 0; from < TOTAL;) {
        try {
          const batch = specs.slice(from, from + BATCH);
          for (const job of await fleet.off.submitBatch(batch)) acked.set(job.name, job.id);
          from += BATCH;
        } catch (err) {
          if (!(err instanceof OffloadApiError)) throw err;
          refusals.push({ status: err.status, code: err.code });
        }
        await sleep(300);
      }
    })();
    submitting.catch(() => undefined); // awaited below; a failure must not go unheard before

    // Cut while jobs run.
    await until('jobs running', async () =>
      (await fleet.off.stats()).counts.running > 0 && fleet.runs().size >= 10 ? true : undefined,
    );
    await cut();

    // Away: not ready, the server up, writes refused with 503.
    const notReady = await until('/readyz to say not ready', async () => {
      const r = await readyz();
      return r.status === 503 ? r : undefined;
    });
    expect(notReady).toMatchObject({ code: 'NOT_READY' });
    expect(notReady.message).toMatch(/the store does not answer|the store refuses writes/);
    const write = await fleet.off
      .submit(fleet.recordingJob('during-the-outage', 0))
      .catch((e: unknown) => e);
    expect(write).toBeInstanceOf(OffloadApiError);
    expect(write).toMatchObject({ status: 503, code: 'NOT_READY' });
    expect((write as Error).message).toMatch(/the store is unavailable/);
    // Agents finish the jobs they hold and keep the reports until the server takes them.
    const outboxes = ['a1', 'a2'].map((a) => path.join(fleet.dir, `agent-${a}`));
    await until('a report kept in an agent’s outbox', async () =>
      outboxes.some((dir) => readOutbox(dir).length > 0) ? true : undefined,
    );
    // Still not ready at the end (asked meanwhile: in a black hole, the ping waits for its timeout).
    const [late] = await Promise.all([readyz(), sleep(OUTAGE_MS)]);
    expect(late.status).toBe(503);
    expect(server.running).toBe(true);

    // Back: ready again with no restart, every acknowledged job ends, each ran once.
    await proxy.restore();
    await until('/readyz to say ready', async () =>
      (await readyz()).status === 200 ? true : undefined,
    );
    await submitting;
    expect(acked.size).toBe(TOTAL);
    await fleet.expectEachRanOnce(acked.values(), TOTAL, 90_000);

    // Every refusal the client saw was a 503 NOT_READY, and every 5xx the server answered
    // anyone (agents included) was the store being away: no 500.
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.filter((r) => r.status !== 503 || r.code !== 'NOT_READY')).toEqual([]);
    const unavailable = logged(server.stdout, 'store unavailable');
    expect(unavailable.length).toBeGreaterThan(0);
    expect(unavailable.filter((e) => !STORE_AWAY.test(e.code ?? ''))).toEqual([]);
    expect(logged(server.stdout, 'request failed')).toEqual([]);
    expect(server.running).toBe(true);
    expect(fleet.server).toBe(server); // never restarted
  }

  it('refused (the port closed): 503 and not ready meanwhile, recovers by itself, every job once', async () => {
    await outage(() => proxy.refuse());
  }, 120_000);

  it('a black hole (connections accepted, nothing forwarded): every wait bounded, the same promises', async () => {
    await outage(() => proxy.stall());
  }, 120_000);
});
