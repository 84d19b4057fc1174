import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentClient,
  ApiErrorClasses,
  Offload,
  OffloadNetworkError,
  type OffloadEvent,
} from '../src/browser.js';
import { Offload as NodeOffload } from '@offload/client';
import { deadPort, startRealServer, type RealServer } from './real-server.js';

const packages = path.resolve(import.meta.dirname, '../..');

/**
 * Every module specifier reachable from `entry`: relative imports and `@offload/*` packages are
 * followed into their sources; anything else (a bare package, a built-in) is collected.
 */
function importGraph(entry: string): { files: string[]; external: Set<string> } {
  const files: string[] = [];
  const external = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.includes(file)) continue;
    files.push(file);
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName: spec } of info.importedFiles) {
      if (spec.startsWith('.')) {
        queue.push(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
      } else if (spec.startsWith('@offload/')) {
        const [pkg, sub] = spec.slice('@offload/'.length).split('/');
        queue.push(path.join(packages, pkg!, 'src', sub ? `${sub}.ts` : 'index.ts'));
      } else {
        external.add(spec);
      }
    }
  }
  return { files, external };
}

const nodeOnly = (spec: string) =>
  spec.startsWith('node:') ||
  builtinModules.includes(spec.split('/')[0]!) ||
  spec === 'undici' ||
  spec.startsWith('undici/');

describe('the browser entry', () => {
  it('imports nothing from Node or undici anywhere in its import graph', () => {
    const browser = importGraph(path.join(packages, 'client/src/browser.ts'));
    expect(browser.files.map((f) => path.relative(packages, f))).toContain(
      'client/src/transport-fetch.ts',
    );
    expect(browser.files.map((f) => path.relative(packages, f))).toContain('protocol/src/index.ts');
    expect([...browser.external].filter(nodeOnly)).toEqual([]);
    expect([...browser.external]).toEqual(['typebox']);

    // The scanner does see them where they are.
    const node = importGraph(path.join(packages, 'client/src/index.ts'));
    expect([...node.external].filter(nodeOnly)).toEqual(['undici']);
  });
});

describe('the browser entry over fetch against a real server', () => {
  let srv: RealServer;
  let off: Offload;
  beforeAll(async () => {
    srv = await startRealServer();
    off = new Offload({ url: srv.url, apiKey: srv.adminToken });
  });
  afterAll(async () => {
    await off.close();
    await srv.close();
  });

  it('submits, gets, lists, follows events and logs, and maps errors', async () => {
    const job = await off.submit({ command: ['echo', 'hi'], name: 'via-fetch' });
    expect(await off.get(job.id)).toMatchObject({ id: job.id, state: 'queued' });
    const listed: string[] = [];
    for await (const j of off.list({ limit: 1 })) listed.push(j.id);
    expect(listed).toEqual([job.id]);
    await expect(off.get('job_nope')).rejects.toBeInstanceOf(ApiErrorClasses.JOB_NOT_FOUND);

    const events = off.events({ jobId: job.id });
    await events.connect();
    const agent = new AgentClient({ url: srv.url, token: await srv.joinToken() });
    const reg = await agent.register({
      name: 'fetch-agent',
      capabilities: [],
      resources: { cpu: 2, memoryMb: 1_024, gpus: [] },
      maxJobs: 2,
    });
    agent.token = reg.secret;
    const { jobs } = await agent.sync({ max: 1, waitMs: 1_000 });
    const claimed = jobs[0]!;
    const follow = off.logs(job.id, { follow: true });
    await agent.reportLogs({
      logs: [{ jobId: job.id, leaseId: claimed.leaseId, stream: 'stdout', data: 'hi\n' }],
    });
    const first = await follow.next();
    expect(first.value).toEqual({ stream: 'stdout', data: 'hi\n' });
    await agent.complete(job.id, { leaseId: claimed.leaseId, outcome: 'succeeded', exitCode: 0 });
    expect(await follow.next()).toEqual({ done: true, value: undefined });
    expect(follow.job?.state).toBe('succeeded');

    const types: string[] = [];
    for await (const ev of events as AsyncIterable<OffloadEvent>) {
      types.push(ev.type);
      if (ev.type === 'job.succeeded') break;
    }
    expect(types).toEqual(['job.started', 'job.succeeded']);
    expect(await off.wait(job.id)).toMatchObject({ state: 'succeeded' });
    expect(await off.logs(job.id)).toBe('hi\n');
  });

  it('reports an unreachable server as OffloadNetworkError after retries', async () => {
    const url = `http://127.0.0.1:${await deadPort()}`;
    const down = new Offload({ url, retries: 1, retryDelayMs: 1 });
    const err = await down.submit({ command: 'true' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OffloadNetworkError);
    expect(err).toMatchObject({ url, attempts: 2 });
  });

  it('the Node entry takes a fetch too', async () => {
    let calls = 0;
    const viaFetch = new NodeOffload({
      url: srv.url,
      apiKey: srv.adminToken,
      fetch: (input, init) => {
        calls++;
        return fetch(input, init);
      },
    });
    expect((await viaFetch.stats()).counts).toBeDefined();
    expect(calls).toBe(1);
  });
});
