import { timingSafeEqual } from 'node:crypto';
import { Type } from 'typebox';
import { ApiError, ErrorBodySchema } from '@offload/protocol';
import type { App, Services } from './route-context.js';

export function systemRoutes(app: App, s: Services, state: { ready: () => boolean }): void {
  app.get('/healthz', {
    config: { auth: { public: true } },
    schema: {
      tags: ['system'],
      summary: 'Liveness: the process answers',
      response: { 200: Type.Object({ ok: Type.Boolean() }) },
    },
    handler: async () => ({ ok: true }),
  });

  app.get('/readyz', {
    config: { auth: { public: true } },
    schema: {
      tags: ['system'],
      summary: 'Readiness: the store answers and takes writes, and hears the other servers',
      response: { 200: Type.Object({ ok: Type.Boolean() }), 503: ErrorBodySchema },
    },
    handler: async () => {
      if (!state.ready())
        throw new ApiError('NOT_READY', 'the server is starting or shutting down');
      const failing = s.storeHealth.problem;
      if (failing)
        throw new ApiError(
          'NOT_READY',
          `the store refuses writes (${failing.code}) since ${new Date(failing.since).toISOString()}; it is ready again after the next write succeeds`,
        );
      try {
        await s.store.ping();
      } catch (err) {
        throw new ApiError(
          'NOT_READY',
          `the store does not answer: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        );
      }
      // The server answers without the feed, but misses the other servers' wake-ups: its
      // parked agents and waiters would sit out their timeouts, so a load balancer should
      // prefer another server. A store that does not answer at all is reported first.
      const deaf = s.feed.problem;
      if (deaf)
        throw new ApiError(
          'NOT_READY',
          `${deaf.reason} since ${new Date(deaf.since).toISOString()}; until it listens, this server misses the other servers' wake-ups`,
        );
      return { ok: true };
    },
  });

  app.get('/metrics', {
    config: { auth: { public: true } },
    schema: {
      tags: ['system'],
      summary: 'Prometheus metrics',
      description:
        'Open unless `metricsToken` is configured; then it needs `Authorization: Bearer <metricsToken>`.',
      response: { 200: Type.String(), 401: ErrorBodySchema },
    },
    handler: async (request, reply) => {
      const token = s.config.metricsToken;
      if (token !== null && !sameSecret(request.headers.authorization ?? '', `Bearer ${token}`)) {
        throw new ApiError('UNAUTHORIZED', 'metrics need `Authorization: Bearer <metricsToken>`');
      }
      return reply.type(s.stats.registry.contentType).send(await s.stats.registry.metrics());
    },
  });
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
