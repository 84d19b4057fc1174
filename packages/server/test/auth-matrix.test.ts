import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type TestAgent, type TestServer } from './test-server.js';

/**
 * Who may call what: one row per route (some routes have a second row for a variant),
 * one column per kind of credential, each cell the status the request must get. A row's
 * `make` builds a concrete request with a valid body over fresh objects for each cell, so
 * a 2xx shows the request got past auth and did its work. The test fails when a route is
 * registered that has no row here.
 */

const CREDS = [
  'none',
  'unknown',
  'revokedKey',
  'expiredJoin',
  'join',
  'read',
  'submit',
  'submitShell',
  'cancel',
  'agent',
  'admin',
] as const;
type Cred = (typeof CREDS)[number];

interface Req {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  body?: unknown;
  /** The response is a never-ending SSE stream when it succeeds: read the status, then hang up. */
  stream?: boolean;
}

interface Ctx {
  t: TestServer;
  /** The agent whose secret is the `agent` column; it runs `task: matrix` jobs targeted at it. */
  agent: TestAgent;
  cred: Cred;
}

interface Row {
  route: string;
  label?: string;
  expect: readonly number[];
  make(ctx: Ctx): Promise<Req> | Req;
}

const NOBODY = [401, 401, 401, 401] as const; // none, unknown, revoked API key, expired join token

// prettier-ignore
const PUBLIC_200 =       [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200];
// prettier-ignore
const matrix = {
  //                      none unknown revoked expired | join read submit sub+sh cancel agent admin
  read:        (ok: number) => [...NOBODY, 403, ok,  403, 403, 403, 403, ok],
  submitTask:  (ok: number) => [...NOBODY, 403, 403, ok,  ok,  403, 403, ok],
  submitShell: (ok: number) => [...NOBODY, 403, 403, 403, ok,  403, 403, ok],
  cancel:      (ok: number) => [...NOBODY, 403, 403, 403, 403, ok,  403, ok],
  admin:       (ok: number) => [...NOBODY, 403, 403, 403, 403, 403, 403, ok],
  client:      (ok: number) => [...NOBODY, 403, ok,  ok,  ok,  ok,  403, ok],
  agent:       (ok: number) => [...NOBODY, 403, 403, 403, 403, 403, ok,  403],
  register:    (join: number, agent: number) => [...NOBODY, join, 403, 403, 403, 403, agent, 403],
};

// Jobs that no agent here can run (the matrix agent only has task:matrix).
const idleTask = { task: 'idle', requires: { capabilities: ['nowhere'] } };
const idleCommand = { command: ['echo', 'hi'], requires: { capabilities: ['nowhere'] } };

async function job(t: TestServer, spec: Record<string, unknown> = idleTask) {
  return t.submit(spec);
}
async function finishedJob(t: TestServer) {
  const j = await job(t);
  const res = await t.request('POST', `/api/v1/jobs/${j.id}/cancel`);
  if (res.status !== 200) throw new Error(`cancel failed: ${res.status} ${res.text}`);
  return j;
}
async function runningJob(ctx: Ctx) {
  const j = await ctx.t.submit({ task: 'matrix', targetAgent: ctx.agent.name });
  const { jobs } = await ctx.agent.sync({ max: 1, waitMs: 0 });
  const claimed = jobs.find((c) => c.id === j.id);
  if (!claimed) throw new Error(`the matrix agent did not claim ${j.id}: ${JSON.stringify(jobs)}`);
  return claimed;
}
let agentNames = 0;
const agentBody = (name: string, capabilities: string[] = []) => ({
  name,
  capabilities,
  resources: { cpu: 4, memoryMb: 8_192, gpus: [] },
  maxJobs: 1_000,
});

// prettier-ignore
const ROWS: Row[] = [
  // System routes: open to everyone (no metricsToken configured here).
  { route: 'GET /healthz', expect: PUBLIC_200, make: () => ({ method: 'GET', url: '/healthz' }) },
  { route: 'GET /readyz', expect: PUBLIC_200, make: () => ({ method: 'GET', url: '/readyz' }) },
  { route: 'GET /metrics', expect: PUBLIC_200, make: () => ({ method: 'GET', url: '/metrics' }) },
  { route: 'GET /openapi.json', expect: PUBLIC_200, make: () => ({ method: 'GET', url: '/openapi.json' }) },

  // Jobs.
  { route: 'POST /api/v1/jobs', label: 'command job (needs shell)', expect: matrix.submitShell(201),
    make: () => ({ method: 'POST', url: '/api/v1/jobs', body: idleCommand }) },
  { route: 'POST /api/v1/jobs', label: 'task job', expect: matrix.submitTask(201),
    make: () => ({ method: 'POST', url: '/api/v1/jobs', body: idleTask }) },
  { route: 'POST /api/v1/jobs/batch', expect: matrix.submitTask(201),
    make: () => ({ method: 'POST', url: '/api/v1/jobs/batch', body: { jobs: [idleTask, { ...idleTask, priority: 'high' }] } }) },
  { route: 'POST /api/v1/jobs/batch', label: 'with a command job (needs shell)', expect: matrix.submitShell(201),
    make: () => ({ method: 'POST', url: '/api/v1/jobs/batch', body: { jobs: [idleTask, idleCommand] } }) },
  { route: 'GET /api/v1/jobs', expect: matrix.read(200), make: () => ({ method: 'GET', url: '/api/v1/jobs?limit=5&state=queued' }) },
  { route: 'GET /api/v1/jobs/:id', expect: matrix.read(200),
    make: async ({ t }) => ({ method: 'GET', url: `/api/v1/jobs/${(await job(t)).id}` }) },
  { route: 'GET /api/v1/jobs/:id/wait', label: 'finished job: 200 at once', expect: matrix.read(200),
    make: async ({ t }) => ({ method: 'GET', url: `/api/v1/jobs/${(await finishedJob(t)).id}/wait?timeoutSec=5` }) },
  { route: 'POST /api/v1/jobs/:id/cancel', label: 'queued job: canceled at once', expect: matrix.cancel(200),
    make: async ({ t }) => ({ method: 'POST', url: `/api/v1/jobs/${(await job(t)).id}/cancel` }) },
  { route: 'POST /api/v1/jobs/:id/retry', label: 'canceled task job', expect: matrix.submitTask(200),
    make: async ({ t }) => ({ method: 'POST', url: `/api/v1/jobs/${(await finishedJob(t)).id}/retry` }) },
  { route: 'GET /api/v1/jobs/:id/attempts', expect: matrix.read(200),
    make: async (ctx) => ({ method: 'GET', url: `/api/v1/jobs/${(await runningJob(ctx)).id}/attempts` }) },
  { route: 'GET /api/v1/jobs/:id/logs', expect: matrix.read(200),
    make: async ({ t }) => ({ method: 'GET', url: `/api/v1/jobs/${(await job(t)).id}/logs` }) },
  { route: 'GET /api/v1/jobs/:id/logs', label: '?follow=1 of a finished job: ends at once', expect: matrix.read(200),
    make: async ({ t }) => ({ method: 'GET', url: `/api/v1/jobs/${(await finishedJob(t)).id}/logs?follow=1` }) },
  { route: 'GET /api/v1/events', label: 'SSE: status read, then hung up', expect: matrix.read(200),
    make: () => ({ method: 'GET', url: '/api/v1/events?types=job.*', stream: true }) },

  // Agents (client side).
  { route: 'GET /api/v1/agents', expect: matrix.read(200), make: () => ({ method: 'GET', url: '/api/v1/agents' }) },
  { route: 'GET /api/v1/agents/:id', expect: matrix.read(200),
    make: ({ agent }) => ({ method: 'GET', url: `/api/v1/agents/${agent.id}` }) },
  { route: 'POST /api/v1/agents/:id/drain', expect: matrix.admin(200),
    make: async ({ t }) => ({ method: 'POST', url: `/api/v1/agents/${(await t.registerAgent({ name: `drain-${++agentNames}` })).id}/drain` }) },
  { route: 'POST /api/v1/agents/:id/resume', expect: matrix.admin(200),
    make: async ({ t }) => {
      const a = await t.registerAgent({ name: `resume-${++agentNames}` });
      await t.request('POST', `/api/v1/agents/${a.id}/drain`);
      return { method: 'POST', url: `/api/v1/agents/${a.id}/resume` };
    } },
  { route: 'DELETE /api/v1/agents/:id', expect: matrix.admin(200),
    make: async ({ t }) => ({ method: 'DELETE', url: `/api/v1/agents/${(await t.registerAgent({ name: `revoke-${++agentNames}` })).id}` }) },

  // The agent protocol.
  { route: 'POST /api/v1/agent/register', label: 'join token: new agent 201; agent secret: update 200', expect: matrix.register(201, 200),
    make: ({ cred, agent }) => ({
      method: 'POST',
      url: '/api/v1/agent/register',
      body: cred === 'agent' ? agentBody(agent.name, ['task:matrix']) : agentBody(`joined-${++agentNames}`),
    }) },
  { route: 'POST /api/v1/agent/sync', expect: matrix.agent(200),
    make: () => ({ method: 'POST', url: '/api/v1/agent/sync', body: { max: 0, waitMs: 0 } }) },
  { route: 'POST /api/v1/agent/heartbeat', expect: matrix.agent(200),
    make: () => ({ method: 'POST', url: '/api/v1/agent/heartbeat', body: { leases: [] } }) },
  { route: 'POST /api/v1/agent/logs', expect: matrix.agent(200),
    make: async (ctx) => {
      const c = await runningJob(ctx);
      return {
        method: 'POST',
        url: '/api/v1/agent/logs',
        body: { logs: [{ jobId: c.id, leaseId: c.leaseId, stream: 'stdout', data: 'hello\n' }], progress: [{ jobId: c.id, leaseId: c.leaseId, percent: 50 }] },
      };
    } },
  { route: 'POST /api/v1/agent/jobs/:id/complete', label: 'its own running job', expect: matrix.agent(200),
    make: async (ctx) => {
      const c = await runningJob(ctx);
      return { method: 'POST', url: `/api/v1/agent/jobs/${c.id}/complete`, body: { leaseId: c.leaseId, outcome: 'succeeded', result: { ok: true } } };
    } },

  // Queues and stats.
  { route: 'GET /api/v1/queues', expect: matrix.read(200), make: () => ({ method: 'GET', url: '/api/v1/queues' }) },
  { route: 'POST /api/v1/queues/:name/pause', expect: matrix.admin(200),
    make: () => ({ method: 'POST', url: `/api/v1/queues/paused-${++agentNames}/pause` }) },
  { route: 'POST /api/v1/queues/:name/resume', expect: matrix.admin(200),
    make: () => ({ method: 'POST', url: `/api/v1/queues/resumed-${++agentNames}/resume` }) },
  { route: 'GET /api/v1/stats', expect: matrix.read(200), make: () => ({ method: 'GET', url: '/api/v1/stats' }) },
  { route: 'GET /api/v1/stats/history', expect: matrix.read(200), make: () => ({ method: 'GET', url: '/api/v1/stats/history' }) },

  // Keys and join tokens.
  { route: 'GET /api/v1/whoami', expect: matrix.client(200), make: () => ({ method: 'GET', url: '/api/v1/whoami' }) },
  { route: 'GET /api/v1/keys', expect: matrix.admin(200), make: () => ({ method: 'GET', url: '/api/v1/keys' }) },
  { route: 'POST /api/v1/keys', expect: matrix.admin(201),
    make: () => ({ method: 'POST', url: '/api/v1/keys', body: { kind: 'api-key', name: 'made-in-matrix', scopes: ['read'] } }) },
  { route: 'DELETE /api/v1/keys/:id', expect: matrix.admin(200),
    make: async ({ t }) => {
      const res = await t.request('POST', '/api/v1/keys', { body: { kind: 'join-token', name: 'to-revoke' } });
      return { method: 'DELETE', url: `/api/v1/keys/${res.body.id}` };
    } },
];

let t: TestServer;
let agent: TestAgent;
const tokens = {} as Record<Cred, string | null>;

beforeAll(async () => {
  t = await createTestServer();
  agent = await t.registerAgent({
    name: 'matrix-agent',
    capabilities: ['task:matrix'],
    maxJobs: 1_000,
  });

  const revoked = await t.request('POST', '/api/v1/keys', {
    body: {
      kind: 'api-key',
      name: 'revoked',
      scopes: ['submit', 'read', 'cancel', 'admin', 'shell'],
    },
  });
  expect((await t.request('DELETE', `/api/v1/keys/${revoked.body.id}`)).status).toBe(200);
  const expired = await t.joinToken({ ttlSec: 1 });
  t.clock.advance(2_000);

  Object.assign(tokens, {
    none: null,
    unknown: 'offk_thisTokenWasNeverIssued0000000000000000000',
    revokedKey: revoked.body.token,
    expiredJoin: expired,
    join: await t.joinToken(),
    read: await t.createKey(['read']),
    submit: await t.createKey(['submit']),
    submitShell: await t.createKey(['submit', 'shell']),
    cancel: await t.createKey(['cancel']),
    agent: agent.secret,
    admin: t.adminToken,
  } satisfies Record<Cred, string | null>);
});

afterAll(async () => {
  await t?.close();
});

async function send(req: Req, token: string | null): Promise<number> {
  const headers = token === null ? {} : { authorization: `Bearer ${token}` };
  const payload = req.body === undefined ? {} : { payload: req.body as object };
  if (!req.stream) {
    const res = await t.app.inject({ method: req.method, url: req.url, headers, ...payload });
    if (res.statusCode >= 500)
      throw new Error(`${req.method} ${req.url}: ${res.statusCode} ${res.body}`);
    return res.statusCode;
  }
  // An SSE stream does not end: take the status from the head, then hang up.
  const abort = new AbortController();
  const res = await t.app.inject({
    method: req.method,
    url: req.url,
    headers,
    payloadAsStream: true,
    signal: abort.signal,
    ...payload,
  });
  const stream = res.stream();
  stream.on('error', () => undefined);
  abort.abort();
  stream.destroy();
  return res.statusCode;
}

describe('auth matrix', () => {
  it('gives every route the expected status for every kind of credential', async () => {
    const routes = t.app.offload.routes
      .filter((r) => r.method !== 'HEAD' && !r.url.startsWith('/docs'))
      .map((r) => `${r.method} ${r.url}`);
    const covered = new Set(ROWS.map((r) => r.route));
    expect(
      routes.filter((r) => !covered.has(r)),
      'routes with no row in the auth matrix',
    ).toEqual([]);
    expect(
      [...covered].filter((r) => !routes.includes(r)),
      'rows for routes that do not exist',
    ).toEqual([]);

    const expected: Record<string, Record<Cred, number>> = {};
    const actual: Record<string, Record<Cred, number>> = {};
    for (const row of ROWS) {
      const key = row.label ? `${row.route} (${row.label})` : row.route;
      expect(row.expect, key).toHaveLength(CREDS.length);
      expected[key] = Object.fromEntries(CREDS.map((c, i) => [c, row.expect[i]!])) as Record<
        Cred,
        number
      >;
      actual[key] = {} as Record<Cred, number>;
      for (const cred of CREDS) {
        const req = await row.make({ t, agent, cred });
        actual[key][cred] = await send(req, tokens[cred]);
      }
    }
    expect(actual).toEqual(expected);
    // The hung-up event streams were released on the server.
    await new Promise((r) => setTimeout(r, 20));
    expect(t.app.offload.hub.subscriberCount).toBe(0);
  });
});

describe('key limits', () => {
  it('a key limited to queues may submit, cancel and retry only in those queues', async () => {
    const key = await t.createKey(['submit', 'cancel'], { queues: ['a'] });
    const inA = await t.request('POST', '/api/v1/jobs', {
      token: key,
      body: { ...idleTask, queue: 'a' },
    });
    expect(inA.status).toBe(201);
    const inB = await t.request('POST', '/api/v1/jobs', {
      token: key,
      body: { ...idleTask, queue: 'b' },
    });
    expect(inB.status).toBe(403);
    expect(inB.body.error).toMatchObject({ code: 'FORBIDDEN' });
    expect(inB.body.error.message).toContain('"b"');
    const noQueue = await t.request('POST', '/api/v1/jobs', { token: key, body: idleTask });
    expect(noQueue.status, 'the default queue is not in ["a"]').toBe(403);
    const batch = await t.request('POST', '/api/v1/jobs/batch', {
      token: key,
      body: {
        jobs: [
          { ...idleTask, queue: 'a' },
          { ...idleTask, queue: 'b' },
        ],
      },
    });
    expect(batch.status).toBe(403);

    const other = await t.submit({ ...idleTask, queue: 'b' });
    expect(
      (await t.request('POST', `/api/v1/jobs/${other.id}/cancel`, { token: key })).status,
    ).toBe(403);
    expect((await t.request('GET', `/api/v1/jobs/${other.id}`)).body.state).toBe('queued');
    expect(
      (await t.request('POST', `/api/v1/jobs/${inA.body.id}/cancel`, { token: key })).status,
    ).toBe(200);
    expect(
      (await t.request('POST', `/api/v1/jobs/${inA.body.id}/retry`, { token: key })).status,
    ).toBe(200);
    await t.request('POST', `/api/v1/jobs/${other.id}/cancel`);
    expect((await t.request('POST', `/api/v1/jobs/${other.id}/retry`, { token: key })).status).toBe(
      403,
    );
  });

  it('a key limited to capabilities ["llm:*"] may require llm:7b but not gpu', async () => {
    const key = await t.createKey(['submit'], { capabilities: ['llm:*'] });
    const ok = await t.request('POST', '/api/v1/jobs', {
      token: key,
      body: { task: 'infer', requires: { capabilities: ['llm:7b'] } },
    });
    expect(ok.status).toBe(201);
    const none = await t.request('POST', '/api/v1/jobs', { token: key, body: { task: 'infer' } });
    expect(none.status).toBe(201);
    const gpu = await t.request('POST', '/api/v1/jobs', {
      token: key,
      body: { task: 'infer', requires: { capabilities: ['gpu'] } },
    });
    expect(gpu.status).toBe(403);
    expect(gpu.body.error.code).toBe('FORBIDDEN');
    expect(gpu.body.error.message).toContain('"gpu"');
    const mixed = await t.request('POST', '/api/v1/jobs', {
      token: key,
      body: { task: 'infer', requires: { capabilities: ['llm:7b', 'gpu'] } },
    });
    expect(mixed.status).toBe(403);
    const prefixOnly = await t.request('POST', '/api/v1/jobs', {
      token: key,
      body: { task: 'infer', requires: { capabilities: ['llm'] } },
    });
    expect(prefixOnly.status, '"llm:*" matches "llm:..." only').toBe(403);
  });

  it('whoami tells a client credential what it may do, and never its secret', async () => {
    const admin = await t.request('GET', '/api/v1/whoami');
    expect(admin.status).toBe(200);
    expect(admin.body).toEqual({
      kind: 'admin',
      id: expect.any(String),
      scopes: ['submit', 'read', 'cancel', 'admin', 'shell'],
    });
    const key = await t.createKey(['read', 'cancel'], {
      name: 'ops-reader',
      queues: ['render'],
      capabilities: ['llm:*'],
    });
    const me = await t.request('GET', '/api/v1/whoami', { token: key });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      kind: 'api-key',
      id: expect.any(String),
      name: 'ops-reader',
      scopes: ['read', 'cancel'],
      queues: ['render'],
      capabilities: ['llm:*'],
    });
    expect(me.text).not.toContain(key);
    const listed = await t.request('GET', '/api/v1/keys');
    expect(listed.body.keys.find((k: { name: string }) => k.name === 'ops-reader').id).toBe(
      me.body.id,
    );
    // An agent's own credential is not a client's.
    const a = await t.registerAgent({ name: 'whoami-agent' });
    const agentAsks = await t.request('GET', '/api/v1/whoami', { token: a.secret });
    expect(agentAsks.status).toBe(403);
    expect(agentAsks.body.error.message).toContain('use an API key');
  });

  it('a revoked agent is refused with 401 on the agent protocol', async () => {
    const a = await t.registerAgent({ name: 'soon-revoked' });
    expect((await t.request('DELETE', `/api/v1/agents/${a.id}`)).status).toBe(200);
    const res = await t.request('POST', '/api/v1/agent/heartbeat', {
      token: a.secret,
      body: { leases: [] },
    });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHORIZED');
  });
});
