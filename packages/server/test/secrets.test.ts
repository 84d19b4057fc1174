import { PassThrough } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@offload/server';
import { createTestServer, type TestAgent, type TestServer } from './test-server.js';

/**
 * No secret — admin token, API key, join token, agent secret — shows after its creation: not
 * in any response, not in the server's own log (at trace level), not in /metrics, not in the
 * event stream; and the job an agent receives holds no client credential.
 */
let t: TestServer;
let log = '';
const secrets: Record<string, string> = {};
let agent: TestAgent;
const seen: string[] = []; // every response body and stream read after the secrets were made

beforeAll(async () => {
  const sink = new PassThrough();
  sink.on('data', (d: Buffer) => (log += d.toString()));
  t = await createTestServer({}, { logger: createLogger('trace', sink) });
  secrets.admin = t.adminToken;
  secrets.apiKey = await t.createKey(['read', 'submit', 'shell', 'cancel']);
  secrets.readKey = await t.createKey(['read']);
  secrets.join = await t.joinToken({ singleUse: false });
  agent = await t.registerAgent({ capabilities: ['task:x'] });
  secrets.agent = agent.secret;
});
afterAll(async () => {
  await t.close();
});

const remember = <T extends { text: string }>(res: T): T => {
  seen.push(res.text);
  return res;
};

describe('secrets never show after creation', () => {
  it('in any response, the job an agent receives, /metrics or the event stream', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const events = await request(`${base}/api/v1/events`, {
      headers: { authorization: `Bearer ${secrets.readKey}` },
    });
    let stream = '';
    events.body.on('data', (d: Buffer) => (stream += d.toString()));

    const submitted = remember(
      await t.request('POST', '/api/v1/jobs', {
        token: secrets.apiKey!,
        body: { task: 'x', input: { hello: 'world' }, env: { A: '1' } },
      }),
    );
    expect(submitted.status).toBe(201);
    const claimed = await agent.sync({ max: 1, waitMs: 0 });
    seen.push(JSON.stringify(claimed));
    expect(claimed.jobs).toHaveLength(1);
    await agent.sync({
      max: 0,
      completions: [
        { jobId: claimed.jobs[0]!.id, leaseId: claimed.jobs[0]!.leaseId, outcome: 'succeeded' },
      ],
    });
    // A refused request, an unknown token, a bad body: error paths log more.
    remember(await t.request('GET', '/api/v1/keys', { token: secrets.readKey! }));
    remember(await t.request('GET', '/api/v1/jobs', { token: 'offk_not_a_real_key' }));
    remember(
      await t.request('POST', '/api/v1/jobs', { token: secrets.apiKey!, body: { nope: 1 } }),
    );
    for (const url of [
      '/api/v1/keys',
      '/api/v1/agents',
      `/api/v1/agents/${agent.id}`,
      '/api/v1/jobs',
      `/api/v1/jobs/${claimed.jobs[0]!.id}`,
      '/api/v1/stats',
      '/api/v1/queues',
      '/metrics',
      '/healthz',
      '/readyz',
      '/openapi.json',
    ])
      remember(await t.request('GET', url));
    await new Promise((r) => setTimeout(r, 100));
    events.body.destroy();
    seen.push(stream);
    expect(stream).toContain('job.succeeded');

    for (const [name, secret] of Object.entries(secrets)) {
      for (const text of seen) expect(text.includes(secret), `${name} in a response`).toBe(false);
      expect(log.includes(secret), `${name} in the server log`).toBe(false);
    }
    expect(log.length).toBeGreaterThan(0);
  });
});
