import {
  NameParams,
  QueueListSchema,
  QueueSchema,
  StatsSchema,
  JOB_STATES,
  type JobState,
} from '@offload/protocol';
import { errorResponses, type App, type Services } from './route-context.js';

const errors = errorResponses(400, 401, 403);

export function queuesRoutes(app: App, s: Services): void {
  app.get('/api/v1/queues', {
    config: { auth: { scope: 'read' } },
    schema: {
      tags: ['queues'],
      summary: 'Queues with depth by state and pause flag',
      response: { 200: QueueListSchema, ...errors },
    },
    handler: async () => ({ queues: await s.store.queuesList() }),
  });

  const setPaused = (paused: boolean) => async (request: { params: { name: string } }) => {
    const name = request.params.name;
    await s.store.queueSetPaused({ name, paused });
    s.dispatcher.setPaused(name, paused);
    const found = (await s.store.queuesList()).find((q) => q.name === name);
    return (
      found ?? {
        name,
        paused,
        counts: Object.fromEntries(JOB_STATES.map((st) => [st, 0])) as Record<JobState, number>,
      }
    );
  };

  app.post('/api/v1/queues/:name/pause', {
    config: { auth: { scope: 'admin' } },
    schema: {
      tags: ['queues'],
      summary: 'Pause a queue: its jobs stay queued and are not handed out',
      description:
        'Running jobs go on. Pausing a queue that has no jobs yet is allowed (it is created paused).',
      params: NameParams,
      response: { 200: QueueSchema, ...errors },
    },
    handler: setPaused(true),
  });

  app.post('/api/v1/queues/:name/resume', {
    config: { auth: { scope: 'admin' } },
    schema: {
      tags: ['queues'],
      summary: 'Resume a paused queue',
      params: NameParams,
      response: { 200: QueueSchema, ...errors },
    },
    handler: setPaused(false),
  });

  app.get('/api/v1/stats', {
    config: { auth: { scope: 'read' } },
    schema: {
      tags: ['queues'],
      summary: 'Counts by state, agents, throughput and queue wait',
      description:
        'Throughput and queue wait are measured by this server over the last hour (per-minute buckets) and its last 4,096 claims.',
      response: { 200: StatsSchema, ...errors },
    },
    handler: async () => {
      const agents = { online: 0, draining: 0, offline: 0 };
      for (const a of await s.store.agentsList({})) if (a.state !== 'revoked') agents[a.state]++;
      return {
        counts: await s.store.countsByState(),
        agents,
        throughput: { ...s.stats.rates(), perMinute: s.stats.perMinute() },
        queueWaitMs: s.stats.queueWaitPercentiles(),
      };
    },
  });
}
