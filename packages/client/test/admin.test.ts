import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, ApiErrorClasses, Offload } from '@offload/client';
import { startRealServer, type RealServer } from './real-server.js';

let srv: RealServer;
let off: Offload;
let agentId: string;

beforeAll(async () => {
  srv = await startRealServer();
  off = new Offload({ url: srv.url, apiKey: srv.adminToken });
  const agent = new AgentClient({ url: srv.url, token: await srv.joinToken() });
  const reg = await agent.register({
    name: 'box-1',
    capabilities: ['gpu'],
    resources: { cpu: 8, memoryMb: 16_000, gpus: [{ index: 0, model: 'T4', memoryMb: 16_000 }] },
    maxJobs: 4,
  });
  agentId = reg.agent.id;
  await agent.close();
});
afterAll(async () => {
  await off.close();
  await srv.close();
});

describe('agents', () => {
  it('lists, gets by id and name, drains, resumes, revokes', async () => {
    const agents = await off.agents.list();
    expect(agents.map((a) => a.name)).toEqual(['box-1']);
    expect(await off.agents.get('box-1')).toMatchObject({ id: agentId, state: 'online' });
    expect((await off.agents.get(agentId)).free.gpus).toEqual([0]);
    expect((await off.agents.drain('box-1')).state).toBe('draining');
    expect((await off.agents.resume(agentId)).state).toBe('online');
    expect((await off.agents.revoke('box-1')).state).toBe('revoked');
    expect(await off.agents.list()).toEqual([]);
    expect((await off.agents.list({ includeRevoked: true })).map((a) => a.state)).toEqual([
      'revoked',
    ]);
    await expect(off.agents.get('nobody')).rejects.toBeInstanceOf(ApiErrorClasses.AGENT_NOT_FOUND);
  });
});

describe('queues and stats', () => {
  it('lists queues, pauses and resumes one', async () => {
    await off.submit({ command: 'true', queue: 'renders' });
    const paused = await off.queues.pause('renders');
    expect(paused).toMatchObject({ name: 'renders', paused: true, counts: { queued: 1 } });
    const queues = await off.queues.list();
    expect(queues.find((q) => q.name === 'renders')?.paused).toBe(true);
    expect((await off.queues.resume('renders')).paused).toBe(false);
  });

  it('reads the last hour, minute by minute', async () => {
    const { minutes } = await off.statsHistory();
    expect(minutes).toHaveLength(60);
    expect(minutes[59]).toEqual(
      expect.objectContaining({ at: expect.any(String), started: expect.any(Number) }),
    );
  });

  it('reads stats', async () => {
    const s = await off.stats();
    expect(s.counts.queued).toBeGreaterThanOrEqual(1);
    expect(s.queueWaitMs).toEqual(expect.objectContaining({ p50: expect.any(Number) }));
  });
});

describe('keys', () => {
  it('creates, lists and revokes keys and join tokens', async () => {
    const key = await off.keys.create({ kind: 'api-key', name: 'ci', scopes: ['read'] });
    expect(key.token).toEqual(expect.any(String));
    const join = await off.keys.create({ kind: 'join-token', name: 'rack', ttlSec: 60 });
    expect(join.kind).toBe('join-token');

    const listed = await off.keys.list();
    expect(listed.map((k) => k.name)).toEqual(expect.arrayContaining(['ci', 'rack']));
    expect(JSON.stringify(listed)).not.toContain(key.token);

    const reader = new Offload({ url: srv.url, apiKey: key.token });
    expect(await reader.stats()).toBeDefined();
    expect(await reader.whoami()).toEqual({
      kind: 'api-key',
      id: key.id,
      name: 'ci',
      scopes: ['read'],
    });
    expect((await off.whoami()).kind).toBe('admin');
    const revoked = await off.keys.revoke(key.id);
    expect(revoked.revokedAt).toEqual(expect.any(String));
    await expect(reader.stats()).rejects.toBeInstanceOf(ApiErrorClasses.UNAUTHORIZED);
    await reader.close();
    await expect(off.keys.revoke('key_nope')).rejects.toBeInstanceOf(ApiErrorClasses.KEY_NOT_FOUND);
  });
});

describe('health', () => {
  it('reports ready without a credential', async () => {
    const anon = new Offload({ url: `${srv.url}/` });
    expect(await anon.health()).toEqual({ ready: true });
    expect(anon.url).toBe(srv.url);
    await anon.close();
  });
});
