import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentRegisterSchema,
  CompletionSchema,
  HeartbeatRequestSchema,
  JobBatchSubmitSchema,
  JobListQuerySchema,
  JobSubmitSchema,
  KeyCreateSchema,
  LogReportSchema,
  LogsQuerySchema,
  SyncRequestSchema,
  WaitQuerySchema,
  WaitTimeoutQuerySchema,
} from '@offload/protocol';
import { createTestServer, type TestServer } from './test-server.js';

/** /openapi.json documents every route, with the schemas that validate it; /docs shows it. */

type Json = any;
let t: TestServer;
let doc: Json;

beforeAll(async () => {
  t = await createTestServer();
  const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  doc = res.json();
});
afterAll(async () => {
  await t.close();
});

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
const documentedRoutes = () =>
  t.app.offload.routes.filter(
    (r) => r.method !== 'HEAD' && !r.url.startsWith('/docs') && r.url !== '/openapi.json',
  );
const operations = (): Array<{ method: string; path: string; op: Json }> =>
  Object.entries(doc.paths as Record<string, Record<string, Json>>).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([m]) => METHODS.includes(m))
      .map(([method, op]) => ({ method, path, op })),
  );

/** Follows local `$ref`s (`#/components/...`), inlining them. */
function deref(node: Json, seen: string[] = []): Json {
  if (Array.isArray(node)) return node.map((n) => deref(n, seen));
  if (node === null || typeof node !== 'object') return node;
  if (typeof node.$ref === 'string') {
    const ref: string = node.$ref;
    expect(ref.startsWith('#/'), `non-local $ref ${ref}`).toBe(true);
    expect(seen, `cyclic $ref ${ref}`).not.toContain(ref);
    let target: Json = doc;
    for (const part of ref.slice(2).split('/'))
      target = target?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    expect(target, `dangling $ref ${ref}`).toBeDefined();
    return deref(target, [...seen, ref]);
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, deref(v, seen)]));
}

function bodySchema(method: string, url: string): Json {
  return deref(
    doc.paths[toOpenApiPath(url)]?.[method]?.requestBody?.content?.['application/json']?.schema,
  );
}

describe('/openapi.json', () => {
  it('is an OpenAPI 3.x document', () => {
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(typeof doc.info?.title).toBe('string');
    expect(typeof doc.info?.version).toBe('string');
    expect(typeof doc.paths).toBe('object');
    const schemes = doc.components?.securitySchemes ?? {};
    expect(schemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });

    for (const { method, path, op } of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(path.startsWith('/'), where).toBe(true);
      // Responses: at least one, each with a description; codes are HTTP codes.
      expect(Object.keys(op.responses ?? {}).length, where).toBeGreaterThan(0);
      for (const [code, response] of Object.entries(op.responses as Record<string, Json>)) {
        expect(code, where).toMatch(/^([1-5][0-9][0-9]|[1-5]XX|default)$/);
        expect(typeof response.description, `${where} ${code}`).toBe('string');
      }
      // Parameters: well formed, and the path template and the path parameters agree.
      const params: Json[] = op.parameters ?? [];
      for (const p of params) {
        expect(typeof p.name, where).toBe('string');
        expect(['path', 'query', 'header', 'cookie'], where).toContain(p.in);
        expect(p.schema, `${where} ${p.name}`).toBeDefined();
        if (p.in === 'path') expect(p.required, `${where} ${p.name}`).toBe(true);
      }
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      expect(
        params
          .filter((p) => p.in === 'path')
          .map((p) => p.name)
          .sort(),
        where,
      ).toEqual(templated);
      const keys = params.map((p) => `${p.in}:${p.name}`);
      expect(new Set(keys).size, `${where}: duplicate parameters`).toBe(keys.length);
      // Security requirements name declared schemes.
      for (const requirement of [...(op.security ?? []), ...(doc.security ?? [])]) {
        for (const name of Object.keys(requirement))
          expect(Object.keys(schemes), where).toContain(name);
      }
      if (op.operationId !== undefined) expect(typeof op.operationId).toBe('string');
    }
    const ids = operations()
      .map((o) => o.op.operationId)
      .filter((x) => x !== undefined);
    expect(new Set(ids).size, 'operationIds are unique').toBe(ids.length);
    // Every $ref resolves.
    deref(doc.paths);
  });

  it('every schema in it is valid JSON Schema (ajv compiles it)', () => {
    const ajv = addFormats.default(new Ajv({ strict: false, allErrors: true }));
    ajv.addKeyword('example');
    let compiled = 0;
    for (const { op } of operations()) {
      const schemas: Json[] = [
        ...(op.parameters ?? []).map((p: Json) => p.schema),
        op.requestBody?.content?.['application/json']?.schema,
        ...Object.values(op.responses ?? {}).flatMap((r: Json) =>
          Object.values(r.content ?? {}).map((c: Json) => c.schema),
        ),
      ].filter(Boolean);
      for (const s of schemas) {
        ajv.compile(deref(s));
        compiled++;
      }
    }
    expect(compiled).toBeGreaterThan(50);
  });

  it('lists every route of the app, and nothing else', () => {
    const documented = new Set(operations().map((o) => `${o.method.toUpperCase()} ${o.path}`));
    const routes = documentedRoutes().map((r) => `${r.method} ${toOpenApiPath(r.url)}`);
    expect(routes.length).toBeGreaterThan(20);
    expect(
      routes.filter((r) => !documented.has(r)),
      'routes missing from /openapi.json',
    ).toEqual([]);
    expect(
      [...documented].filter((d) => !routes.includes(d)),
      'documented operations that are not routes',
    ).toEqual([]);
    // The static UI and the document itself are not API operations.
    expect(
      Object.keys(doc.paths).filter((p) => p.startsWith('/docs') || p === '/openapi.json'),
    ).toEqual([]);
  });

  it('documents each route with a summary, a success response and the error shape', () => {
    for (const r of documentedRoutes()) {
      const where = `${r.method} ${r.url}`;
      const op = doc.paths[toOpenApiPath(r.url)][r.method.toLowerCase()];
      expect(typeof op.summary, where).toBe('string');
      expect(Array.isArray(op.tags) && op.tags.length > 0, `${where} has tags`).toBe(true);
      const codes = Object.keys(op.responses);
      const success = codes.filter((c) => /^2/.test(c));
      expect(success.length, `${where} has a 2xx response`).toBeGreaterThan(0);
      for (const c of success)
        expect(op.responses[c].content, `${where} ${c} has content`).toBeDefined();

      const isPublic = ['/healthz', '/readyz', '/metrics'].includes(r.url);
      if (isPublic) {
        expect(op.security, `${where} needs no bearer token`).toEqual([]);
        continue;
      }
      expect(op.security, `${where} uses the document's bearer security`).toBeUndefined();
      for (const c of ['401', '403']) {
        expect(codes, `${where} documents ${c}`).toContain(c);
        const schema = deref(op.responses[c].content['application/json'].schema);
        expect(
          schema.properties.error.properties.code,
          `${where} ${c} has the error shape`,
        ).toBeDefined();
        expect(schema.properties.error.properties.message).toBeDefined();
        expect(schema.properties.error.required).toEqual(
          expect.arrayContaining(['code', 'message']),
        );
      }
      if (/:id/.test(r.url)) expect(codes, `${where} documents 404`).toContain('404');
    }
    // The statuses the API really answers are documented.
    const expectCodes = (method: string, url: string, codes: string[]) =>
      expect(
        Object.keys(doc.paths[toOpenApiPath(url)][method].responses),
        `${method} ${url}`,
      ).toEqual(expect.arrayContaining(codes));
    expectCodes('post', '/api/v1/jobs', ['200', '201', '202', '400', '413']);
    expectCodes('post', '/api/v1/jobs/batch', ['201', '400', '413']);
    expectCodes('get', '/api/v1/jobs/:id/wait', ['200', '202']);
    expectCodes('post', '/api/v1/jobs/:id/cancel', ['200', '202', '409']);
    expectCodes('post', '/api/v1/jobs/:id/retry', ['200', '409']);
    expectCodes('post', '/api/v1/agent/register', ['200', '201', '409']);
    expectCodes('post', '/api/v1/agent/jobs/:id/complete', ['200', '409']);
    expectCodes('post', '/api/v1/keys', ['201', '400']);
    expectCodes('get', '/readyz', ['200', '503']);
  });

  it('documents request bodies and query strings with the schemas that validate them', () => {
    const propsOf = (s: Json) => Object.keys(s.properties ?? {}).sort();
    const bodies: Array<[string, string, Json]> = [
      ['post', '/api/v1/jobs', JobSubmitSchema],
      ['post', '/api/v1/jobs/batch', JobBatchSubmitSchema],
      ['post', '/api/v1/keys', KeyCreateSchema],
      ['post', '/api/v1/agent/register', AgentRegisterSchema],
      ['post', '/api/v1/agent/sync', SyncRequestSchema],
      ['post', '/api/v1/agent/heartbeat', HeartbeatRequestSchema],
      ['post', '/api/v1/agent/logs', LogReportSchema],
      [
        'post',
        '/api/v1/agent/jobs/:id/complete',
        {
          ...CompletionSchema,
          properties: Object.fromEntries(
            Object.entries(CompletionSchema.properties).filter(([k]) => k !== 'jobId'),
          ),
        },
      ],
    ];
    for (const [method, url, source] of bodies) {
      const where = `${method.toUpperCase()} ${url}`;
      expect(
        doc.paths[toOpenApiPath(url)][method].requestBody?.required,
        `${where} body is required`,
      ).toBe(true);
      const schema = bodySchema(method, url);
      expect(schema, where).toBeDefined();
      expect(schema.type, where).toBe('object');
      expect(propsOf(schema), where).toEqual(propsOf(source));
      expect((schema.required ?? []).sort(), where).toEqual(
        (source.required ?? []).filter((k: string) => k !== 'jobId').sort(),
      );
      // Unknown fields are refused, and the document says so.
      expect(schema.additionalProperties, `${where} additionalProperties`).toBe(false);
    }
    // Routes without a body document none.
    const withBody = new Set(bodies.map(([m, u]) => `${m} ${toOpenApiPath(u)}`));
    for (const { method, path, op } of operations()) {
      if (!withBody.has(`${method} ${path}`))
        expect(op.requestBody, `${method.toUpperCase()} ${path} has no body`).toBeUndefined();
    }

    const queries: Array<[string, string, Json]> = [
      ['get', '/api/v1/jobs', JobListQuerySchema],
      ['post', '/api/v1/jobs', WaitQuerySchema],
      ['get', '/api/v1/jobs/:id/wait', WaitTimeoutQuerySchema],
      ['get', '/api/v1/jobs/:id/logs', LogsQuerySchema],
    ];
    for (const [method, url, source] of queries) {
      const params: Json[] = doc.paths[toOpenApiPath(url)][method].parameters ?? [];
      expect(
        params
          .filter((p) => p.in === 'query')
          .map((p) => p.name)
          .sort(),
        `${method} ${url} query`,
      ).toEqual(propsOf(source));
    }
    const events: Json[] = doc.paths['/api/v1/events'].get.parameters;
    expect(
      events
        .filter((p) => p.in === 'query')
        .map((p) => p.name)
        .sort(),
    ).toEqual(['jobId', 'queue', 'types']);
    const stateParam = (doc.paths['/api/v1/jobs'].get.parameters as Json[]).find(
      (p) => p.name === 'state',
    );
    expect(stateParam.schema.enum).toEqual([
      'scheduled',
      'queued',
      'running',
      'succeeded',
      'failed',
      'canceled',
      'expired',
    ]);
  });

  it('its job schema accepts what the API accepts and refuses what it refuses', async () => {
    const ajv = addFormats.default(new Ajv({ strict: false }));
    const validate = ajv.compile(bodySchema('post', '/api/v1/jobs'));
    const samples: unknown[] = [
      { command: ['echo', 'hi'] },
      {
        task: 'x',
        input: { a: 1 },
        priority: 'high',
        requires: { cpu: 0.5, capabilities: ['gpu'] },
      },
      { task: 'x', priority: 'urgent' },
      { task: 'x', requires: { cpu: '2' } },
      { task: 'x', bogus: true },
      { command: '' },
    ];
    for (const sample of samples) {
      const res = await t.request('POST', '/api/v1/jobs', { body: sample });
      const apiAccepts = res.status === 201;
      expect(res.status === 201 || res.status === 400, JSON.stringify(sample)).toBe(true);
      expect(validate(sample), `document vs API for ${JSON.stringify(sample)}`).toBe(apiAccepts);
    }
  });

  it('is public, like the other system routes', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
  });
});

describe('/docs', () => {
  it('serves the API explorer as HTML, without a credential', async () => {
    let res = await t.app.inject({ method: 'GET', url: '/docs' });
    for (let hops = 0; hops < 3 && res.statusCode >= 300 && res.statusCode < 400; hops++) {
      const location = String(res.headers.location);
      res = await t.app.inject({
        method: 'GET',
        url: new URL(location, 'http://x/docs/').pathname,
      });
    }
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toMatch(/<html/i);
    expect(res.body.toLowerCase()).toContain('swagger');
  });

  it('serves its static assets and the document it shows', async () => {
    const json = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(json.statusCode).toBe(200);
    expect(json.json().paths).toEqual(doc.paths);
    const html = (await t.app.inject({ method: 'GET', url: '/docs/' })).body;
    const assets = [...html.matchAll(/(?:src|href)="\.?\/?([^"]+\.(?:js|css))"/g)].map(
      (m) => m[1]!,
    );
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets.slice(0, 3)) {
      const url = asset.startsWith('/') ? asset : `/docs/${asset.replace(/^docs\//, '')}`;
      expect((await t.app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
  });
});
