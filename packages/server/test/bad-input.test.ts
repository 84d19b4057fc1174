import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from './test-server.js';

/**
 * Malformed requests get a 4xx with the one error shape, the field named for validation
 * errors, and never a 5xx; the server stays healthy after all of them.
 */

let t: TestServer;
beforeAll(async () => {
  t = await createTestServer();
});
afterAll(async () => {
  await t.close();
});

interface Raw {
  method?: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
  url: string;
  payload?: string | Buffer | object;
  headers?: Record<string, string>;
  token?: string | null;
}

const seen: Array<{ what: string; status: number }> = [];

async function raw(r: Raw) {
  const token = r.token === undefined ? t.adminToken : r.token;
  const res = await t.app.inject({
    method: r.method ?? 'POST',
    url: r.url,
    headers: { ...(token !== null && { authorization: `Bearer ${token}` }), ...r.headers },
    ...(r.payload !== undefined && { payload: r.payload }),
  });
  seen.push({ what: `${r.method ?? 'POST'} ${r.url}`, status: res.statusCode });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

/** Asserts the error shape and status, and returns the error. */
async function refused(r: Raw, status: number, code: string) {
  const res = await raw(r);
  expect(
    res.status,
    `${r.method ?? 'POST'} ${r.url.slice(0, 80)}: ${JSON.stringify(res.body).slice(0, 300)}`,
  ).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).toEqual({
    error: expect.objectContaining({ code, message: expect.any(String) }),
  });
  expect(Object.keys(res.body.error).sort()).toEqual(expect.arrayContaining(['code', 'message']));
  expect(res.body.error.message.length).toBeGreaterThan(5);
  return res.body.error as {
    code: string;
    message: string;
    details?: Array<{ field: string; message: string }>;
  };
}

/** A 400 VALIDATION_FAILED whose details name `field` (a JSON pointer, or `query/...`). */
async function invalid(r: Raw, field: string | RegExp) {
  const err = await refused(r, 400, 'VALIDATION_FAILED');
  expect(Array.isArray(err.details), JSON.stringify(err)).toBe(true);
  const fields = err.details!.map((d) => d.field);
  if (typeof field === 'string') expect(fields).toContain(field);
  else
    expect(
      fields.some((f) => field.test(f)),
      `${fields.join(', ')} should match ${field}`,
    ).toBe(true);
  for (const d of err.details!)
    expect(d).toEqual({ field: expect.any(String), message: expect.any(String) });
  return err;
}

const job = (extra: Record<string, unknown>) => ({
  url: '/api/v1/jobs',
  payload: { task: 'x', ...extra },
});

afterEach(() => {
  const bad = seen.filter((s) => s.status >= 500);
  seen.length = 0;
  expect(bad, 'no request may get a 5xx').toEqual([]);
});

describe('bodies that are not JSON objects', () => {
  it('invalid JSON', async () => {
    for (const text of [
      '{',
      '{"task": "x",}',
      "{'task': 'x'}",
      '{"task": "x"} trailing',
      'nul',
      '\u0000',
    ]) {
      const err = await invalid(
        { url: '/api/v1/jobs', payload: text, headers: { 'content-type': 'application/json' } },
        'body',
      );
      expect(err.message).toMatch(/JSON/);
    }
  });

  it('an empty body', async () => {
    await invalid(
      { url: '/api/v1/jobs', payload: '', headers: { 'content-type': 'application/json' } },
      'body',
    );
    // No body and no content type at all.
    await refused({ url: '/api/v1/jobs' }, 400, 'VALIDATION_FAILED');
    await refused({ url: '/api/v1/keys' }, 400, 'VALIDATION_FAILED');
  });

  it('JSON that is not an object', async () => {
    for (const text of ['null', '[]', '"task"', '42', 'true', '[{"task":"x"}]']) {
      await refused(
        { url: '/api/v1/jobs', payload: text, headers: { 'content-type': 'application/json' } },
        400,
        'VALIDATION_FAILED',
      );
    }
  });

  it('a body that is not JSON: 415 for unknown media types, 4xx for text', async () => {
    await refused(
      { url: '/api/v1/jobs', payload: '<job/>', headers: { 'content-type': 'application/xml' } },
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    await refused(
      {
        url: '/api/v1/jobs',
        payload: 'task=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    await refused(
      {
        url: '/api/v1/jobs',
        payload: Buffer.from([0xff, 0x00, 0x13]),
        headers: { 'content-type': 'application/octet-stream' },
      },
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    // Valid JSON sent as text/plain is still not a JSON body.
    const res = await raw({
      url: '/api/v1/jobs',
      payload: '{"task":"x"}',
      headers: { 'content-type': 'text/plain' },
    });
    expect([400, 415]).toContain(res.status);
    expect(res.body.error.code).toMatch(/^(VALIDATION_FAILED|UNSUPPORTED_MEDIA_TYPE)$/);
  });
});

describe('job fields', () => {
  it('types are not coerced', async () => {
    await invalid(job({ requires: { cpu: '2' } }), '/requires/cpu');
    await invalid(job({ maxAttempts: '3' }), '/maxAttempts');
    await invalid(job({ timeoutSec: true }), '/timeoutSec');
    await invalid(job({ tags: { a: 1 } }), '/tags/a');
    await invalid(job({ env: { PATH: null } }), '/env/PATH');
    await invalid({ url: '/api/v1/jobs', payload: { command: 42 } }, '/command');
    await invalid({ url: '/api/v1/jobs', payload: { command: ['echo', 1] } }, /^\/command/);
    await invalid(job({ name: ['a'] }), '/name');
  });

  it('unknown enum values', async () => {
    const err = await invalid(job({ priority: 'urgent' }), '/priority');
    expect(err.message).toContain('critical');
    await invalid(job({ backoff: { type: 'linear' } }), '/backoff/type');
  });

  it('numbers out of range', async () => {
    await invalid(job({ requires: { cpu: -1 } }), '/requires/cpu');
    await invalid(job({ requires: { gpus: 1.5 } }), '/requires/gpus');
    await invalid(job({ requires: { memoryMb: 1e20 } }), '/requires/memoryMb');
    await invalid(job({ maxAttempts: 0 }), '/maxAttempts');
    await invalid(job({ maxAttempts: 1_000 }), '/maxAttempts');
    await invalid(job({ timeoutSec: 0 }), '/timeoutSec');
    await invalid(job({ timeoutSec: 1e12 }), '/timeoutSec');
    await invalid(job({ nice: 20 }), '/nice');
    await invalid(job({ delaySec: -5 }), '/delaySec');
    await invalid(job({ expireAfterSec: 0 }), '/expireAfterSec');
    await invalid(job({ backoff: { type: 'fixed', delaySec: -1 } }), '/backoff/delaySec');
  });

  it('strings too long, empty or badly formed', async () => {
    await invalid(job({ name: 'n'.repeat(257) }), '/name');
    await invalid(job({ name: '' }), '/name');
    await invalid(job({ queue: 'q'.repeat(129) }), '/queue');
    await invalid(job({ queue: 'has space' }), '/queue');
    await invalid(job({ queue: '../etc' }), '/queue');
    await invalid(job({ idempotencyKey: 'k'.repeat(257) }), '/idempotencyKey');
    await invalid(job({ runAt: 'tomorrow' }), '/runAt');
    await invalid(job({ requires: { capabilities: ['has space'] } }), /^\/requires\/capabilities/);
    await invalid(job({ requires: { capabilities: ['gpu', 'gpu'] } }), '/requires/capabilities');
    await invalid({ url: '/api/v1/jobs', payload: { command: '' } }, /^\/command/);
    await invalid({ url: '/api/v1/jobs', payload: { command: 'x'.repeat(65_537) } }, /^\/command/);
    await invalid({ url: '/api/v1/jobs', payload: { command: [] } }, /^\/command/);
  });

  it('unknown fields are rejected, not dropped, and named', async () => {
    const probe = { name: 'unknown-field-probe' };
    let err = await invalid(job({ ...probe, bogus: 1 }), '/bogus');
    expect(err.message).toContain('bogus');
    err = await invalid(job({ ...probe, requires: { cpus: 2 } }), '/requires/cpus');
    expect(err.message).toContain('cpus');
    err = await invalid(job({ ...probe, backoff: { type: 'fixed', delay: 1 } }), '/backoff/delay');
    expect(err.message).toContain('delay');
    err = await invalid(
      { url: '/api/v1/jobs/batch', payload: { jobs: [{ task: 'x', ...probe }], extra: true } },
      '/extra',
    );
    expect(err.message).toContain('extra');
    err = await invalid(
      {
        url: '/api/v1/keys',
        payload: { kind: 'api-key', name: 'k', scopes: ['read'], admin: true },
      },
      '/admin',
    );
    expect(err.message).toContain('admin');
    // Nothing was stored by any of these.
    expect(
      (await t.request('GET', '/api/v1/jobs', { query: { q: probe.name } })).body.jobs,
    ).toEqual([]);
  });

  // Map keys are checked with propertyNames (see StringMap in protocol).
  it('env names must match the variable-name pattern', async () => {
    await invalid(job({ env: { 'BAD-NAME': 'x' } }), /^\/env/);
  });
  it('env values under a non-matching name are still validated', async () => {
    await invalid(job({ env: { 'A-B': { nested: true } } }), /^\/env/);
  });
  it('names, idempotency keys and tags are one line: control characters are refused, said so', async () => {
    for (const [extra, field] of [
      [{ name: 'a\u0000b' }, '/name'],
      [{ name: 'two\nlines' }, '/name'],
      [{ idempotencyKey: 'k\u0000' }, '/idempotencyKey'],
      [{ tags: { shot: 'v\u0007' } }, /^\/tags/],
      [{ tags: { 'k\tk': 'v' } }, /^\/tags/],
    ] as const) {
      const err = await invalid(job(extra), field);
      expect(err.details!.map((d) => d.message).join(' ')).toContain('control characters');
    }
    // Any other text is fine: accents, emoji, right-to-left, spaces.
    const ok = await raw(job({ name: 'rendu “été” 🎬 שלום', tags: { 'plan séquence': 'a b' } }));
    expect(ok.status).toBe(201);
  });
  it('a malformed queue name is explained, not quoted as a regular expression', async () => {
    const err = await invalid(job({ queue: 'has space' }), '/queue');
    expect(err.details![0]!.message).toContain('letters, digits');
  });
  it('tag keys are 1 to 128 characters', async () => {
    await invalid(job({ tags: { '': 'empty key' } }), /^\/tags/);
  });

  it('command and task: exactly one', async () => {
    await refused({ url: '/api/v1/jobs', payload: { name: 'nothing' } }, 400, 'VALIDATION_FAILED');
    await refused(
      { url: '/api/v1/jobs', payload: { task: 'x', command: 'y' } },
      400,
      'VALIDATION_FAILED',
    );
  });

  it('a batch names the job and field at fault, and stores none', async () => {
    await invalid(
      {
        url: '/api/v1/jobs/batch',
        payload: { jobs: [{ task: 'ok' }, { task: 'x', priority: 'urgent' }] },
      },
      '/jobs/1/priority',
    );
    await invalid({ url: '/api/v1/jobs/batch', payload: { jobs: [] } }, '/jobs');
    await invalid({ url: '/api/v1/jobs/batch', payload: { jobs: {} } }, '/jobs');
    await invalid({ url: '/api/v1/jobs/batch', payload: {} }, '/jobs');
    expect((await t.request('GET', '/api/v1/jobs', { query: { q: 'ok' } })).body.jobs).toEqual([]);
  });

  it('other bodies: keys, agent registration, agent reports', async () => {
    await invalid({ url: '/api/v1/keys', payload: { kind: 'root', name: 'k' } }, '/kind');
    await invalid(
      { url: '/api/v1/keys', payload: { kind: 'api-key', name: 'k', scopes: ['everything'] } },
      /^\/scopes/,
    );
    await invalid({ url: '/api/v1/keys', payload: { kind: 'api-key', name: 'k' } }, '/scopes');
    await invalid(
      { url: '/api/v1/keys', payload: { kind: 'join-token', name: 'k', ttlSec: 0 } },
      '/ttlSec',
    );
    await invalid(
      { url: '/api/v1/keys', payload: { kind: 'join-token', name: 'k', ttlSec: '60' } },
      '/ttlSec',
    );

    const join = await t.joinToken();
    const reg = {
      name: 'box',
      capabilities: [],
      resources: { cpu: 1, memoryMb: 1, gpus: [] },
      maxJobs: 1,
    };
    await invalid(
      { url: '/api/v1/agent/register', token: join, payload: { ...reg, maxJobs: 0 } },
      '/maxJobs',
    );
    await invalid(
      {
        url: '/api/v1/agent/register',
        token: join,
        payload: { ...reg, resources: { cpu: '4', memoryMb: 1, gpus: [] } },
      },
      '/resources/cpu',
    );
    await invalid(
      { url: '/api/v1/agent/register', token: join, payload: { ...reg, name: 'bad name' } },
      '/name',
    );
    await invalid(
      { url: '/api/v1/agent/register', token: join, payload: { ...reg, secret: 'x' } },
      '/secret',
    );

    const agent = await t.registerAgent();
    await invalid(
      { url: '/api/v1/agent/sync', token: agent.secret, payload: { max: -1, waitMs: 0 } },
      '/max',
    );
    await invalid(
      { url: '/api/v1/agent/sync', token: agent.secret, payload: { max: 1, waitMs: 'soon' } },
      '/waitMs',
    );
    await invalid(
      {
        url: '/api/v1/agent/sync',
        token: agent.secret,
        payload: { max: 1, waitMs: 0, completions: [{ jobId: 'j', leaseId: 'l', outcome: 'meh' }] },
      },
      '/completions/0/outcome',
    );
    await invalid(
      { url: '/api/v1/agent/heartbeat', token: agent.secret, payload: { leases: 'all' } },
      '/leases',
    );
    await invalid(
      {
        url: '/api/v1/agent/logs',
        token: agent.secret,
        payload: { logs: [{ jobId: 'j', leaseId: 'l', stream: 'stdin', data: '' }] },
      },
      '/logs/0/stream',
    );
    await invalid(
      {
        url: '/api/v1/agent/jobs/job_x/complete',
        token: agent.secret,
        payload: { leaseId: 'l', outcome: 'succeeded', jobId: 'other' },
      },
      '/jobId',
    );
    await invalid(
      {
        url: '/api/v1/agent/jobs/job_x/complete',
        token: agent.secret,
        payload: { leaseId: 'l', outcome: 'succeeded', bogus: 1 },
      },
      '/bogus',
    );
  });
});

describe('unknown ids and routes', () => {
  it('unknown ids: 404 with the code of what is missing', async () => {
    for (const [method, url] of [
      ['GET', '/api/v1/jobs/job_nope'],
      ['GET', '/api/v1/jobs/job_nope/wait?timeoutSec=1'],
      ['GET', '/api/v1/jobs/job_nope/logs'],
      ['GET', '/api/v1/jobs/job_nope/logs?follow=1'],
      ['POST', '/api/v1/jobs/job_nope/cancel'],
      ['POST', '/api/v1/jobs/job_nope/retry'],
    ] as const) {
      await refused({ method, url }, 404, 'JOB_NOT_FOUND');
    }
    for (const [method, url] of [
      ['GET', '/api/v1/agents/agt_nope'],
      ['POST', '/api/v1/agents/agt_nope/drain'],
      ['POST', '/api/v1/agents/agt_nope/resume'],
      ['DELETE', '/api/v1/agents/agt_nope'],
    ] as const) {
      await refused({ method, url }, 404, 'AGENT_NOT_FOUND');
    }
    await refused({ method: 'DELETE', url: '/api/v1/keys/key_nope' }, 404, 'KEY_NOT_FOUND');
    // The admin credential and an agent credential are not API keys: not revocable here.
    await refused({ method: 'DELETE', url: '/api/v1/keys/admin_test' }, 404, 'KEY_NOT_FOUND');
    // Ids with odd characters are still just unknown ids.
    await refused(
      { method: 'GET', url: `/api/v1/jobs/${encodeURIComponent("job_'; DROP TABLE jobs;--")}` },
      404,
      'JOB_NOT_FOUND',
    );
    await refused({ method: 'GET', url: '/api/v1/jobs/%E2%9C%93%00' }, 404, 'JOB_NOT_FOUND');
  });

  it('ids over the length limit are a validation error', async () => {
    await invalid({ method: 'GET', url: `/api/v1/jobs/${'j'.repeat(65)}` }, /id/);
    // Over the router's own segment limit too: still the API's error shape.
    await invalid({ method: 'GET', url: `/api/v1/jobs/${'j'.repeat(500)}` }, /url|id/);
    await invalid({ method: 'POST', url: `/api/v1/queues/${'q'.repeat(500)}/pause` }, /url|name/);
  });

  it('malformed percent-encoding in the path is a 400 in the API error shape', async () => {
    for (const url of [
      '/api/v1/jobs/%zz',
      '/api/v1/jobs/%E0%A4%A',
      '/api/v1/agents/%',
      '/api/v1/keys/%C0%AF',
    ]) {
      await invalid({ method: url.includes('keys') ? 'DELETE' : 'GET', url }, /url|id/);
    }
    await invalid({ method: 'GET', url: '/api/v1/jobs?limit=%zz' }, /limit/);
  });

  it('an agent completing a job it does not hold is refused without a 5xx', async () => {
    const agent = await t.registerAgent();
    const res = await raw({
      url: '/api/v1/agent/jobs/job_nope/complete',
      token: agent.secret,
      payload: { leaseId: 'lease_nope', outcome: 'succeeded' },
    });
    expect([404, 409]).toContain(res.status);
    expect(res.body.error.code).toMatch(/^(JOB_NOT_FOUND|LEASE_STALE)$/);
  });

  it('unknown routes and methods: 404 NOT_FOUND', async () => {
    for (const [method, url] of [
      ['GET', '/api/v1/nope'],
      ['GET', '/api/v2/jobs'],
      ['POST', '/api/v1/jobs/job_x/explode'],
      ['PUT', '/api/v1/jobs'],
      ['PATCH', '/api/v1/jobs/job_x'],
      ['DELETE', '/api/v1/jobs'],
      ['GET', '/api/v1/jobs/job_x/logs/extra'],
      ['GET', '/%2e%2e/%2e%2e/etc/passwd'],
    ] as const) {
      const err = await refused({ method, url }, 404, 'NOT_FOUND');
      expect(err.message).toContain('no route');
    }
    // Without a credential as well: an unknown route is not hidden behind a 401.
    await refused({ method: 'GET', url: '/api/v1/nope', token: null }, 404, 'NOT_FOUND');
  });
});

describe('body size', () => {
  it('a single job over 1 MiB is 413 PAYLOAD_TOO_LARGE; a ~2 MiB batch is accepted', async () => {
    const big = 'x'.repeat(1_100_000);
    await refused(
      { url: '/api/v1/jobs', payload: { task: 'big', input: { big } } },
      413,
      'PAYLOAD_TOO_LARGE',
    );
    // Refused before reading the body, with no credential check skipped: still 401 without one.
    await refused(
      { url: '/api/v1/jobs', payload: { task: 'big', input: { big } }, token: null },
      401,
      'UNAUTHORIZED',
    );

    const jobs = Array.from({ length: 20 }, (_, i) => ({
      task: 'big',
      name: `big-${i}`,
      input: { chunk: 'y'.repeat(100_000) },
    }));
    const body = JSON.stringify({ jobs });
    expect(body.length).toBeGreaterThan(2_000_000);
    const res = await raw({
      url: '/api/v1/jobs/batch',
      payload: body,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(201);
    expect(res.body.jobs).toHaveLength(20);
  });

  it('the batch limit applies too', async () => {
    const small = await createTestServer({ batchBodyLimitBytes: 64 * 1024 });
    try {
      const jobs = Array.from({ length: 2 }, () => ({ task: 'big', input: 'z'.repeat(40_000) }));
      const res = await small.request('POST', '/api/v1/jobs/batch', { body: { jobs } });
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    } finally {
      await small.close();
    }
  });
});

describe('query parameters', () => {
  it('bad list parameters are 400 with the parameter named, not 500', async () => {
    await invalid({ method: 'GET', url: '/api/v1/jobs?limit=0' }, /limit/);
    await invalid({ method: 'GET', url: '/api/v1/jobs?limit=501' }, /limit/);
    await invalid({ method: 'GET', url: '/api/v1/jobs?limit=abc' }, /limit/);
    await invalid({ method: 'GET', url: '/api/v1/jobs?limit=1.5' }, /limit/);
    await invalid({ method: 'GET', url: '/api/v1/jobs?limit=' }, /limit/);
    await invalid({ method: 'GET', url: '/api/v1/jobs?state=nope' }, /state/);
    await invalid({ method: 'GET', url: '/api/v1/jobs?tag=novalue' }, /tag/);
    await invalid({ method: 'GET', url: '/api/v1/jobs?bogus=1' }, /bogus/);
    await invalid({ method: 'GET', url: '/api/v1/jobs?queue=a%20b' }, /queue/);
    await invalid({ method: 'GET', url: `/api/v1/jobs?cursor=${'c'.repeat(200)}` }, /cursor/);
    await invalid({ method: 'GET', url: '/api/v1/jobs?limit=1&limit=2' }, /limit/);
  });

  it('a garbage cursor is 400, not 500', async () => {
    for (let i = 0; i < 3; i++) await t.submit({ task: 'page' });
    for (const cursor of [
      'garbage',
      'AAAA',
      '%00',
      '{"id":1}',
      'eyJ4Ijp9',
      '-1',
      '0',
      'MA',
      'OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ',
      '\u00e9',
      ' ',
    ]) {
      const err = await invalid(
        { method: 'GET', url: `/api/v1/jobs?cursor=${encodeURIComponent(cursor)}` },
        /cursor/,
      );
      expect(err.message).toContain('cursor');
    }
    // A real cursor, mutated: another page or a 400, never a 5xx.
    const first = await t.request('GET', '/api/v1/jobs', { query: { limit: '1' } });
    expect(first.status).toBe(200);
    const real: string = first.body.nextCursor;
    expect(typeof real).toBe('string');
    for (const cursor of [
      real.slice(0, -1),
      `${real}x`,
      `x${real}`,
      real.split('').reverse().join(''),
      real.toUpperCase(),
    ]) {
      const res = await raw({
        method: 'GET',
        url: `/api/v1/jobs?cursor=${encodeURIComponent(cursor)}`,
      });
      expect([200, 400], `cursor ${cursor}`).toContain(res.status);
      if (res.status === 400) expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('other query parameters', async () => {
    const done = await t.submit({ task: 'q' });
    await invalid(
      { method: 'GET', url: `/api/v1/jobs/${done.id}/wait?timeoutSec=-1` },
      /timeoutSec/,
    );
    await invalid(
      { method: 'GET', url: `/api/v1/jobs/${done.id}/wait?timeoutSec=forever` },
      /timeoutSec/,
    );
    await invalid(
      { method: 'GET', url: `/api/v1/jobs/${done.id}/wait?timeoutSec=301` },
      /timeoutSec/,
    );
    await invalid({ method: 'GET', url: `/api/v1/jobs/${done.id}/logs?follow=yes` }, /follow/);
    await invalid({ url: '/api/v1/jobs?wait=later', payload: { task: 'x' } }, /wait/);
    await invalid({ method: 'GET', url: '/api/v1/events?types=job.nope' }, /types/);
    await invalid({ method: 'GET', url: '/api/v1/events?types=*,' }, /types/);
    await invalid({ method: 'GET', url: '/api/v1/agents?includeRevoked=maybe' }, /includeRevoked/);
    await invalid({ url: '/api/v1/queues/bad%20name/pause' }, /name/);
  });
});

describe('credentials that are malformed', () => {
  it('odd Authorization headers are 401, not 500', async () => {
    for (const authorization of [
      'Bearer',
      'Bearer ',
      'Basic dXNlcjpwYXNz',
      'bearer a b',
      'Token x',
      `Bearer ${'a'.repeat(10_000)}`,
      'Bearer \u00e9\u00e9',
    ]) {
      const res = await t.app.inject({
        method: 'GET',
        url: '/api/v1/jobs',
        headers: { authorization },
      });
      expect(res.statusCode, authorization.slice(0, 20)).toBe(401);
      expect(res.json().error.code).toBe('UNAUTHORIZED');
    }
  });
});

describe('afterwards', () => {
  it('the server is still healthy and serves normal requests', async () => {
    expect((await t.request('GET', '/healthz', { token: null })).status).toBe(200);
    expect((await t.request('GET', '/readyz', { token: null })).status).toBe(200);
    const job = await t.submit({ task: 'after' });
    expect((await t.request('GET', `/api/v1/jobs/${job.id}`)).body.state).toBe('queued');
  });
});
