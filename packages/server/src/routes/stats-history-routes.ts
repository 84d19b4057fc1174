import { StatsHistorySchema } from '@offload/protocol';
import { errorResponses, type App, type Services } from './route-context.js';

export function statsHistoryRoutes(app: App, s: Services): void {
  app.get('/api/v1/stats/history', {
    config: { auth: { scope: 'read' } },
    schema: {
      tags: ['queues'],
      summary: 'The last hour, minute by minute: jobs started and finished, queue wait p50/p95',
      description:
        'Measured by this server since it started (in memory, not shared between servers); feeds the dashboard overview charts.',
      response: { 200: StatsHistorySchema, ...errorResponses(401, 403) },
    },
    handler: async () => ({ minutes: s.stats.history() }),
  });
}
