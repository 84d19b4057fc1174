import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAgent, type Agent } from '@offload/agent';
import { Offload } from '@offload/client';
import type { Gpu, Job, JobSubmit } from '@offload/protocol';
import { resolveServerConfig, startServer, type RunningServer } from '@offload/server';

/**
 * A real server (serving the built dashboard) and three in-process agents that advertise
 * different machines, seeded with jobs in every state — for the browser tests and their
 * screenshots. Every command job carries MARKER in its environment, so the tests can find
 * (and the teardown can check for) its processes in /proc.
 */
export const DIST = fileURLToPath(new URL('../../packages/dashboard/dist', import.meta.url));
export const ADMIN = 'offa_dashboard_test_admin_token_0123456789';

export interface Fleet {
  server: RunningServer;
  url: string;
  off: Offload;
  agents: Agent[];
  marker: string;
  dir: string;
  /** A command job with the marker in its env. */
  submit(spec: JobSubmit): Promise<Job>;
  close(): Promise<void>;
}

const RTX: Gpu = { index: 0, model: 'NVIDIA RTX 4090', memoryMb: 24_564 };

export async function startFleet(): Promise<Fleet> {
  if (!existsSync(path.join(DIST, 'index.html')))
    throw new Error(`the dashboard is not built (${DIST}): run \`npm run build\` first`);
  const dir = mkdtempSync(path.join(tmpdir(), 'offload-dashboard-test-'));
  const marker = `OFFLOAD_DASHBOARD_TEST_${process.pid}_${Date.now()}`;
  const config = resolveServerConfig(
    {
      dataDir: path.join(dir, 'server'),
      host: '127.0.0.1',
      port: 0,
      logLevel: 'silent',
      tierGraceMs: 0,
    },
    {},
  );
  const server = await startServer({
    config: { ...config, dashboardDir: DIST } as typeof config,
    env: { OFFLOAD_ADMIN_TOKEN: ADMIN },
    shutdownGraceMs: 500,
  });
  const off = new Offload({ url: server.url, apiKey: ADMIN });
  const agents: Agent[] = [];
  const agent = async (
    name: string,
    o: {
      capabilities: string[];
      tier: number;
      pools: string[];
      cpu: number;
      memoryMb: number;
      gpus: Gpu[];
    },
  ) => {
    const a = createAgent({
      servers: [server.url],
      joinToken: (
        await off.keys.create({ kind: 'join-token', name: `join-${name}`, singleUse: true })
      ).token,
      name,
      stateDir: path.join(dir, name),
      capabilities: o.capabilities,
      tier: o.tier,
      pools: o.pools,
      maxJobs: 8,
      killGraceMs: 1_000,
      resources: { cpu: o.cpu, memoryMb: o.memoryMb, gpus: o.gpus, os: 'linux', arch: 'x64' },
      version: '0.1.0',
      log: () => undefined,
    });
    agents.push(a);
    await a.start();
  };
  try {
    await agent('gpu-render-01', {
      capabilities: ['gpu', 'cuda', 'ffmpeg', 'blender'],
      tier: 2,
      pools: ['render'],
      cpu: 32,
      memoryMb: 131_072,
      gpus: [RTX, { ...RTX, index: 1 }],
    });
    await agent('mac-mini-02', {
      capabilities: ['ffmpeg', 'xcode', 'blender'],
      tier: 1,
      pools: ['build'],
      cpu: 10,
      memoryMb: 32_768,
      gpus: [],
    });
    await agent('rpi-edge-03', {
      capabilities: ['arm'],
      tier: 0,
      pools: [],
      cpu: 4,
      memoryMb: 8_192,
      gpus: [],
    });
  } catch (err) {
    await Promise.all(agents.map((a) => a.stop({ drainMs: 0 })));
    await server.close();
    throw err;
  }
  const submit = (spec: JobSubmit) =>
    off.submit({ ...spec, env: { ...spec.env, OFFLOAD_TEST_MARKER: marker } });
  return {
    server,
    url: server.url,
    off,
    agents,
    marker,
    dir,
    submit,
    async close() {
      await Promise.all(agents.map((a) => a.stop({ drainMs: 0 }).catch(() => undefined)));
      await off.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Jobs in every state across a few queues, so every page has something real to show. */
export async function seedJobs(f: Fleet): Promise<{ running: Job }> {
  const done = await Promise.all([
    f.submit({
      name: 'transcode intro.mp4 → webm',
      command: 'echo transcoding; echo done',
      queue: 'media',
      tags: { project: 'launch' },
    }),
    f.submit({
      name: 'thumbnail sheet 001',
      command: ['echo', 'thumbs ok'],
      queue: 'media',
      tags: { project: 'launch' },
    }),
    f.submit({
      name: 'nightly ingest 2026-11-23',
      command: 'echo ingested 1204 rows',
      queue: 'ingest',
    }),
    f.submit({
      name: 'ingest partner feed',
      command: 'echo "bad row 17" >&2; exit 3',
      queue: 'ingest',
      tags: { partner: 'acme' },
    }),
    f.submit({
      name: 'ios build #481',
      command: 'echo built',
      queue: 'builds',
      targetAgent: 'mac-mini-02',
    }),
    f.submit({
      name: 'sensor sync',
      command: 'echo synced',
      queue: 'edge',
      targetAgent: 'rpi-edge-03',
    }),
  ]);
  await Promise.all(done.map((j) => f.off.wait(j.id, { timeoutSec: 20 })));
  // Live work: a render with progress on its second attempt, a queue paused with work
  // waiting, a job no agent can take, a scheduled one and a canceled one.
  const running = await renderOnTwoAgents(f);
  await f.off.queues.pause('ml');
  await Promise.all([
    f.submit({
      name: 'fine-tune llama adapter',
      command: 'echo train',
      queue: 'ml',
      requires: { gpus: 1 },
    }),
    f.submit({ name: 'eval suite', command: 'echo eval', queue: 'ml' }),
    f.submit({
      name: 'tpu benchmark',
      command: 'echo tpu',
      queue: 'ml-exp',
      requires: { capabilities: ['tpu'] },
    }),
    f.submit({ name: 'weekly report', command: 'echo report', queue: 'reports', delaySec: 3_600 }),
  ]);
  const stale = await f.submit({
    name: 'old backfill',
    command: 'echo backfill',
    queue: 'ingest',
    delaySec: 600,
  });
  await f.off.cancel(stale.id);
  await Promise.all([
    f.off.keys.create({ kind: 'api-key', name: 'grafana', scopes: ['read'] }),
    f.off.keys.create({
      kind: 'api-key',
      name: 'render-farm',
      scopes: ['read', 'submit', 'shell', 'cancel'],
      queues: ['render'],
      capabilities: ['gpu', 'blender'],
    }),
    f.off.keys.create({ kind: 'join-token', name: 'new-workstations', ttlSec: 86_400 }),
  ]);
  return { running };
}

/**
 * A render whose first attempt fails on mac-mini-02 (the GPU box is drained while it is
 * submitted) and whose retry runs on gpu-render-01 (the Mac is drained while the retry
 * waits out its backoff): a job with two attempts on two agents, for the timeline. Both
 * agents take work again once the retry runs.
 */
async function renderOnTwoAgents(f: Fleet): Promise<Job> {
  await f.off.agents.drain('gpu-render-01');
  const job = await f.submit({
    name: 'render shot 042 frames 1-240',
    command:
      'echo "loading scene"; ' +
      'if [ "$OFFLOAD_ATTEMPT" = 1 ]; then echo "Metal: out of GPU memory" >&2; exit 1; fi; ' +
      "echo '::progress 35 rendering frames'; echo 'frame 84/240'; exec sleep 300",
    queue: 'render',
    requires: { cpu: 8, memoryMb: 16_384, capabilities: ['blender'] },
    priority: 'high',
    maxAttempts: 3,
    backoff: { type: 'fixed', delaySec: 3 },
    tags: { shot: '042', project: 'launch' },
  });
  await untilState(f.off, job.id, 'scheduled');
  await f.off.agents.drain('mac-mini-02');
  await f.off.agents.resume('gpu-render-01');
  const running = await untilState(f.off, job.id, 'running');
  await f.off.agents.resume('mac-mini-02');
  if (running.agent?.name !== 'gpu-render-01' || running.attempt !== 2)
    throw new Error(`test setup: the retry runs as ${JSON.stringify(running)}`);
  return running;
}

export async function untilState(
  off: Offload,
  id: string,
  state: Job['state'],
  timeoutMs = 15_000,
): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await off.get(id);
    if (job.state === state) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} is ${job.state}, not ${state}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Pids of live processes whose environment holds `token` (Linux /proc). */
export function processesWith(token: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') continue;
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').includes(token)) out.push(pid);
    } catch {
      // gone, or not ours
    }
  }
  return out;
}
