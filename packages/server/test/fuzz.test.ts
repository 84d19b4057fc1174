import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from './test-server.js';

/**
 * Random and mutated requests at every route with every kind of credential: nothing gets a
 * 5xx, every JSON error has the one error shape, and the server still answers afterwards.
 * Seeded for reproducibility; `FC_SEED=<n>` replays another run (fast-check prints the seed
 * and the counterexample on failure). `FC_RUNS=<n>` changes the number of requests.
 */

const SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : 0x0ff10ad;
const RUNS = process.env.FC_RUNS ? Number(process.env.FC_RUNS) : 10_000;

let t: TestServer;
let routes: Array<{ method: string; url: string }>;
const ids = { finishedJob: '', queuedJob: '', agent: '', agentName: '', key: '' };
const creds: Record<string, string | null> = {};

beforeAll(async () => {
  // Long polls must not hold the fuzz up: claims never wait, and waits in queries are capped below.
  t = await createTestServer({ maxClaimWaitMs: 0 });
  routes = t.app.offload.routes.filter((r) => r.method !== 'HEAD' && !r.url.startsWith('/docs'));

  const agent = await t.registerAgent({ name: 'fuzz-agent', capabilities: ['task:fuzz'] });
  const finished = await t.submit({ task: 'fuzz-done' });
  await t.request('POST', `/api/v1/jobs/${finished.id}/cancel`);
  const queued = await t.submit({ task: 'fuzz-queued', queue: 'fuzzq' });
  const key = await t.request('POST', '/api/v1/keys', {
    body: { kind: 'api-key', name: 'victim', scopes: ['read'] },
  });
  Object.assign(ids, {
    finishedJob: finished.id,
    queuedJob: queued.id,
    agent: agent.id,
    agentName: agent.name,
    key: key.body.id,
  });

  const revoked = await t.request('POST', '/api/v1/keys', {
    body: { kind: 'api-key', name: 'revoked', scopes: ['read', 'submit'] },
  });
  await t.request('DELETE', `/api/v1/keys/${revoked.body.id}`);
  const expired = await t.joinToken({ ttlSec: 1 });
  t.clock.advance(2_000);
  Object.assign(creds, {
    none: null,
    unknown: 'offk_neverIssuedneverIssuedneverIssued00000000',
    revoked: revoked.body.token,
    expiredJoin: expired,
    join: await t.joinToken(),
    read: await t.createKey(['read']),
    submit: await t.createKey(['submit']),
    submitShell: await t.createKey(['submit', 'shell']),
    cancel: await t.createKey(['cancel']),
    limited: await t.createKey(['submit', 'read', 'cancel'], {
      queues: ['a'],
      capabilities: ['llm:*'],
    }),
    agent: agent.secret,
    admin: t.adminToken,
  });
});

afterAll(async () => {
  await t?.close();
});

// ---- valid bodies, to mutate ----

const validBodies = (): Record<string, unknown[]> => ({
  'POST /api/v1/jobs': [
    {
      command: ['echo', 'hi'],
      name: 'n',
      queue: 'q1',
      requires: { cpu: 1, memoryMb: 10, gpus: 0, capabilities: ['gpu'] },
      priority: 'high',
      env: { A: '1' },
      tags: { k: 'v' },
      timeoutSec: 10,
      maxAttempts: 2,
      backoff: { type: 'fixed', delaySec: 1 },
    },
    {
      task: 'fuzz',
      input: { a: [1, 'b', null] },
      delaySec: 5,
      idempotencyKey: 'idem',
      expireAfterSec: 10,
      cwd: '/tmp',
      nice: 5,
      targetAgent: 'fuzz-agent',
      pool: 'p',
    },
    { command: 'sleep 1 | wc', runAt: new Date(Date.now() + 60_000).toISOString() },
  ],
  'POST /api/v1/jobs/batch': [{ jobs: [{ task: 'fuzz' }, { command: ['true'], priority: 'low' }] }],
  'POST /api/v1/keys': [
    {
      kind: 'api-key',
      name: 'k',
      scopes: ['read', 'submit'],
      queues: ['a'],
      capabilities: ['llm:*'],
      ttlSec: 60,
    },
    { kind: 'join-token', name: 'j', singleUse: true, ttlSec: 60 },
  ],
  'POST /api/v1/agent/register': [
    {
      name: 'fz',
      capabilities: ['a', 'task:fuzz'],
      resources: { cpu: 1, memoryMb: 1, gpus: [{ index: 0, model: 'm', memoryMb: 1 }] },
      maxJobs: 1,
      tier: 1,
      pools: ['p'],
      hostname: 'h',
      os: 'linux',
      arch: 'x64',
      version: '1',
    },
  ],
  'POST /api/v1/agent/sync': [
    {
      max: 1,
      waitMs: 0,
      completions: [
        {
          jobId: 'job_x',
          leaseId: 'lease_x',
          outcome: 'succeeded',
          exitCode: 0,
          result: { ok: true },
          usage: { wallSec: 1, cpuSec: 1, maxRssMb: 5 },
        },
      ],
    },
  ],
  'POST /api/v1/agent/heartbeat': [{ leases: ['lease_x'], draining: false, load: 1 }],
  'POST /api/v1/agent/logs': [
    {
      logs: [{ jobId: 'job_x', leaseId: 'lease_x', stream: 'stdout', data: 'x\n' }],
      progress: [{ jobId: 'job_x', leaseId: 'lease_x', percent: 5, stage: 's', message: 'm' }],
    },
  ],
  'POST /api/v1/agent/jobs/:id/complete': [
    {
      leaseId: 'lease_x',
      outcome: 'failed',
      exitCode: 1,
      signal: 'SIGKILL',
      error: { code: 'TASK_FAILED', message: 'm' },
    },
  ],
});

/** Every JSON pointer path in a value: the places a mutation may hit. */
function pathsOf(
  value: unknown,
  prefix: Array<string | number> = [],
): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}

/** A copy of `value` with the thing at `path` replaced (or deleted, for `undefined`). */
function setAt(value: unknown, path: Array<string | number>, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const copy: any = Array.isArray(value) ? [...value] : { ...(value as object) };
  const [head, ...rest] = path;
  if (rest.length === 0 && replacement === undefined) {
    if (Array.isArray(copy)) copy.splice(Number(head), 1);
    else delete copy[head!];
  } else {
    copy[head!] = setAt(copy[head!], rest, replacement);
  }
  return copy;
}

// ---- arbitraries ----

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const weirdString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.oneof(
      loneSurrogate,
      fc.constantFrom('\u0000', '%', '/', '?', '#', '..', '\\', '"', "'", ';', '*', '_', '\n', ' '),
    ),
    maxLength: 12,
  }),
  fc.constantFrom(
    '',
    ' ',
    '0',
    '-1',
    '1e309',
    'NaN',
    'Infinity',
    'null',
    'true',
    '[]',
    '{}',
    'queued',
    'job.*',
    'agent.*',
    '*',
    'a:b',
    'x'.repeat(300),
    "' OR 1=1 --",
    '%',
    '%%',
    '%00',
    '%zz',
  ),
);
const randomJson = fc.jsonValue({ maxDepth: 4 });

const mutatedBody = (template: unknown) =>
  fc
    .tuple(
      fc.array(
        fc.tuple(
          fc.constantFrom(...pathsOf(template)),
          fc.oneof(randomJson, weirdString, fc.constant(undefined)),
        ),
        { minLength: 1, maxLength: 3 },
      ),
      fc.option(
        fc.tuple(
          fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'prototype')),
          randomJson,
        ),
      ),
    )
    .map(([changes, extra]) => {
      let body = template;
      for (const [path, replacement] of changes) body = setAt(body, path, replacement);
      if (extra && body !== null && typeof body === 'object' && !Array.isArray(body))
        body = { ...body, [extra[0]]: extra[1] };
      return body;
    });

type Body =
  { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'raw'; text: string | Uint8Array };

const bodyFor = (routeKey: string): fc.Arbitrary<Body> => {
  const templates = validBodies()[routeKey] ?? [];
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
    { weight: 2, arbitrary: randomJson.map<Body>((value) => ({ kind: 'json', value })) },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          weirdString,
          fc.constantFrom(
            '{',
            '{"a":',
            '[1,',
            '{"task":"x"}{',
            '\ufeff{}',
            '{"__proto__":{"x":1}}',
          ),
        )
        .map<Body>((text) => ({ kind: 'raw', text })),
    },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 64 }).map<Body>((text) => ({ kind: 'raw', text })),
    },
    ...(templates.length > 0
      ? [
          {
            weight: 2,
            arbitrary: fc
              .constantFrom(...templates)
              .map<Body>((value) => ({ kind: 'json', value })),
          },
          {
            weight: 6,
            arbitrary: fc
              .constantFrom(...templates)
              .chain(mutatedBody)
              .map<Body>((value) => ({ kind: 'json', value })),
          },
        ]
      : []),
  );
};

/** Percent-encodes the UTF-8 bytes (encodeURIComponent throws on lone surrogates). */
const pct = (s: string) =>
  [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9_.~-]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, '0').toUpperCase()}`,
    )
    .join('');

const idLike = fc.oneof(
  { weight: 6, arbitrary: fc.constant('__real__') },
  { weight: 3, arbitrary: weirdString.map(pct) },
  { weight: 1, arbitrary: weirdString.filter((s) => !/[?#/]/.test(s)) }, // raw, unencoded
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '%',
      '%zz',
      '%E0%A4%A',
      '..',
      '.',
      '%2e%2e',
      'x'.repeat(200),
      '%2F',
      'job_%00',
    ),
  },
);

const QUERY_KEYS = [
  'limit',
  'cursor',
  'state',
  'queue',
  'agent',
  'tag',
  'q',
  'wait',
  'timeoutSec',
  'follow',
  'types',
  'jobId',
  'includeRevoked',
];
const queryArb = fc.dictionary(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...QUERY_KEYS) },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  ),
  fc.oneof(
    weirdString,
    fc.integer().map(String),
    fc.array(fc.constantFrom('1', 'a', 'queued'), { minLength: 2, maxLength: 3 }),
  ),
  { maxKeys: 3 },
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  'application/xml',
  'application/vnd.api+json',
  '*/*',
  ';;;',
];
const headerValue = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 40,
});
/** `arb` one time in `1 + nullWeight`, else null. */
const sometimes = <T>(arb: fc.Arbitrary<T>, nullWeight: number) =>
  fc.oneof({ weight: nullWeight, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
const headersArb = fc.record({
  contentType: sometimes(fc.oneof(fc.constantFrom(...CONTENT_TYPES), headerValue), 4),
  accept: sometimes(
    fc.constantFrom('application/json', 'text/event-stream', 'text/html', '*/*', 'x/y;q=0'),
    4,
  ),
  extra: sometimes(
    fc.tuple(
      fc.constantFrom(
        'x-request-id',
        'content-encoding',
        'x-forwarded-for',
        'if-none-match',
        'origin',
      ),
      headerValue,
    ),
    4,
  ),
});
const credArb = fc.oneof(
  // The credential that gets through for the route, so that bodies and queries reach validation and handlers.
  { weight: 10, arbitrary: fc.constant('best') },
  {
    weight: 10,
    arbitrary: fc.constantFrom(
      'none',
      'unknown',
      'revoked',
      'expiredJoin',
      'join',
      'read',
      'submit',
      'submitShell',
      'cancel',
      'limited',
      'agent',
      'admin',
    ),
  },
  { weight: 1, arbitrary: headerValue.map((s) => `raw:${s}`) },
);

const requestArb = fc
  .record({
    routeIndex: fc.nat(),
    otherMethod: sometimes(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'), 12),
    params: fc.array(idLike, { minLength: 2, maxLength: 2 }),
    query: sometimes(queryArb, 1),
    cred: credArb,
    headers: headersArb,
    suffix: sometimes(fc.constantFrom('/', '//', '/extra', '?', '#frag', '.json'), 15),
  })
  .chain((r) => {
    const route = routes[r.routeIndex % routes.length]!;
    return bodyFor(`${route.method} ${route.url}`).map((body) => ({ ...r, route, body }));
  });

type FuzzRequest = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

function realId(route: string, param: string): string {
  if (param === 'name') return 'fuzzq';
  if (route.includes('/agents/')) return ids.agent;
  if (route.includes('/keys/')) return ids.key;
  // A live job would hold /wait (default 30 s) and /logs?follow=1 open: those get the finished one.
  return route.includes('/cancel') || route.includes('/logs') || route.includes('/wait')
    ? ids.finishedJob
    : ids.queuedJob;
}

/** Long polls in queries are capped so that the fuzz does not sleep. */
function capWaits(query: Record<string, string | string[]>): Record<string, string | string[]> {
  const out = { ...query };
  for (const k of ['wait', 'timeoutSec']) {
    const v = out[k];
    if (typeof v === 'string' && Number(v) > 0.02) out[k] = '0.02';
  }
  return out;
}

function show(r: FuzzRequest): string {
  return JSON.stringify({
    route: `${r.route.method} ${r.route.url}`,
    otherMethod: r.otherMethod,
    params: r.params,
    query: r.query,
    cred: r.cred,
    headers: r.headers,
    suffix: r.suffix,
    body: r.body,
  }).slice(0, 800);
}

async function send(r: FuzzRequest) {
  let i = 0;
  let url = r.route.url.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    const p = r.params[i++]!;
    return p === '__real__' ? realId(r.route.url, name) : p;
  });
  if (r.suffix) url += r.suffix;
  const headers: Record<string, string> = {};
  const cred =
    r.cred !== 'best'
      ? r.cred
      : r.route.url === '/api/v1/agent/register'
        ? r.params[0]!.length % 2
          ? 'join'
          : 'agent'
        : r.route.url.startsWith('/api/v1/agent/')
          ? 'agent'
          : 'admin';
  if (cred.startsWith('raw:')) headers.authorization = cred.slice(4);
  else if (creds[cred]) headers.authorization = `Bearer ${creds[cred]}`;
  if (r.headers.contentType != null) headers['content-type'] = r.headers.contentType;
  if (r.headers.accept != null) headers.accept = r.headers.accept;
  if (r.headers.extra != null) headers[r.headers.extra[0]] = r.headers.extra[1];
  let payload: string | Buffer | undefined;
  if (r.body.kind === 'json') {
    payload = JSON.stringify(r.body.value) ?? 'null';
    headers['content-type'] ??= 'application/json';
  } else if (r.body.kind === 'raw') {
    payload = typeof r.body.text === 'string' ? r.body.text : Buffer.from(r.body.text);
  }

  const abort = new AbortController();
  const res = await t.app.inject({
    method: (r.otherMethod ?? r.route.method) as 'GET',
    url,
    headers,
    ...(r.query && { query: capWaits(r.query) }),
    ...(payload !== undefined && { payload }),
    payloadAsStream: true,
    signal: abort.signal,
  });
  const stream = res.stream();
  stream.on('error', () => undefined);
  const contentType = String(res.headers['content-type'] ?? '');
  if (contentType.startsWith('text/event-stream')) {
    // An event stream (events, or following a live job's log): the head is all there is to check.
    abort.abort();
    stream.destroy();
    return { status: res.statusCode, contentType, text: '' };
  }
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return { status: res.statusCode, contentType, text: Buffer.concat(chunks).toString('utf8') };
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
function heapAfterGc(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

describe('fuzz', () => {
  it('random and mutated requests at every route never get a 5xx, and errors keep their shape', async () => {
    const statuses = new Map<number, number>();
    const routesHit = new Set<string>();
    const timeByRoute = new Map<string, number>();
    const started = Date.now();
    let sent = 0;
    let baselineHeap = 0;
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        // Memory is measured from the 1,000th request on, after caches and JIT have warmed up.
        if (++sent === 1_000) baselineHeap = heapAfterGc();
        const t0 = performance.now();
        let timer: NodeJS.Timeout | undefined;
        const res = await Promise.race([
          send(r),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within 5 s: ${show(r)}`)), 5_000);
          }),
        ]).finally(() => clearTimeout(timer));
        const k = `${r.route.method} ${r.route.url}`;
        timeByRoute.set(k, (timeByRoute.get(k) ?? 0) + performance.now() - t0);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status < 400) routesHit.add(`${r.route.method} ${r.route.url}`);
        expect(res.status, res.text.slice(0, 300)).toBeLessThan(500);
        if (res.status >= 400) {
          expect(res.contentType).toMatch(/^application\/json/);
          const body = JSON.parse(res.text);
          expect(body).toEqual({
            error: expect.objectContaining({
              code: expect.stringMatching(/^[A-Z_]+$/),
              message: expect.any(String),
            }),
          });
          expect(
            Object.keys(body.error).every((k) => ['code', 'message', 'details'].includes(k)),
          ).toBe(true);
          if (body.error.code === 'VALIDATION_FAILED' && Array.isArray(body.error.details)) {
            for (const d of body.error.details) expect(typeof d.field).toBe('string');
          }
        } else if (res.contentType.startsWith('application/json')) {
          JSON.parse(res.text);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    const elapsed = Date.now() - started;
    const heapGrowthMiB = (heapAfterGc() - baselineHeap) / 1024 / 1024;
    // Stable: what thousands of requests leave behind (caches of requirement classes, auth
    // entries) is bounded, not a leak that grows with every request.
    expect(heapGrowthMiB).toBeLessThan(32);
    // Enough requests got through auth and validation to exercise the handlers.
    expect(
      routesHit.size,
      `routes that answered 2xx/3xx: ${[...routesHit].join(', ')}`,
    ).toBeGreaterThan(routes.length / 2);
    expect(statuses.get(401) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(403) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(404) ?? 0).toBeGreaterThan(0);
    if (process.env.FC_VERBOSE)
      console.log({
        seed: SEED,
        runs: RUNS,
        elapsed,
        heapGrowthMiB,
        statuses: Object.fromEntries(statuses),
        routesHit: [...routesHit],
        slow: [...timeByRoute]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 6)
          .map(([k, v]) => `${k} ${Math.round(v)} ms`),
      });
  }, 120_000);

  it('the server still answers afterwards', async () => {
    expect((await t.request('GET', '/healthz', { token: null })).status).toBe(200);
    expect((await t.request('GET', '/readyz', { token: null })).status).toBe(200);
    const job = await t.submit({ task: 'after-fuzz' });
    expect((await t.request('GET', `/api/v1/jobs/${job.id}`)).body.state).toBe('queued');
    expect((await t.request('GET', '/api/v1/stats')).status).toBe(200);
    expect((await t.request('GET', '/metrics', { token: null })).status).toBe(200);
  });
});
