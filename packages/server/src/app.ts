import Fastify, { LogController, type FastifyBaseLogger, type FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { systemClock, type Clock } from '@offload/core';
import { ApiError } from '@offload/protocol';
import type { Store } from '@offload/store';
import type { ServerConfig } from './config.js';
import { installAuth } from './plugins/auth-hook.js';
import { installDashboard } from './plugins/dashboard-static.js';
import { installErrorHandler, refusesWrites } from './plugins/error-handler.js';
import { installValidators } from './plugins/validation.js';
import { agentProtocolRoutes } from './routes/agent-protocol-routes.js';
import { agentsRoutes } from './routes/agents-routes.js';
import { attemptsRoutes } from './routes/attempts-routes.js';
import { eventsRoutes } from './routes/events-routes.js';
import { jobsRoutes } from './routes/jobs-routes.js';
import { keysRoutes } from './routes/keys-routes.js';
import { logsRoutes } from './routes/logs-routes.js';
import { queuesRoutes } from './routes/queues-routes.js';
import { statsHistoryRoutes } from './routes/stats-history-routes.js';
import type { App, Services } from './routes/route-context.js';
import { closeSseStreams } from './routes/sse.js';
import { systemRoutes } from './routes/system-routes.js';
import { AuthService, describeRule } from './services/auth-service.js';
import { Dispatcher } from './services/dispatcher.js';
import { EventHub } from './services/event-hub.js';
import { JobService } from './services/job-service.js';
import { ChangeFeedService } from './services/change-feed.js';
import { Maintenance } from './services/maintenance.js';
import { Stats } from './services/stats.js';
import { RateLimiter, StreamQuota } from './services/rate-limiter.js';
import { StoreHealth } from './services/store-health.js';

/**
 * Where the dashboard's built assets are (packages/dashboard/dist). The CLI, which composes
 * the packages, resolves it and passes it in, in the options or on the config object given
 * to `startServer`; absent, `/` says how to build the dashboard.
 */
export interface DashboardOptions {
  dashboardDir?: string | null | undefined;
}

export interface BuildAppOptions extends DashboardOptions {
  store: Store;
  config: Readonly<ServerConfig> & Readonly<DashboardOptions>;
  clock?: Clock;
  /** A pino logger; none when absent (tests). */
  logger?: FastifyBaseLogger;
  /** Start the timers (due times, reaper, retention). Tests with a fake clock drive them by hand. */
  startMaintenance?: boolean;
}

export const API_VERSION = '1.0.0';

declare module 'fastify' {
  interface FastifyInstance {
    offload: Services;
  }
}

/**
 * Builds the Fastify app over a store: services, validation, auth, error mapping, every
 * route, and /openapi.json + /docs generated from the same schemas that validate. It does
 * not listen (server.ts does), so tests drive it with `app.inject()`. Closing the app
 * stops the timers and releases parked long polls; the store is the caller's to close.
 */
export async function buildApp(options: BuildAppOptions): Promise<App> {
  const { store, config } = options;
  const clock = options.clock ?? systemClock;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: config.bodyLimitBytes,
    // Long polls and event streams stay open; the agent protocol relies on keep-alive.
    keepAliveTimeout: 75_000,
    requestTimeout: 0,
    return503OnClosing: true,
    // Per-request log lines would cost more than the request at tens of thousands per second.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => Math.random().toString(36).slice(2, 12),
    ajv: { customOptions: { coerceTypes: false } },
    // URLs refused before routing (bad percent-encoding, an over-long path segment) get the API's error shape too.
    frameworkErrors: (err, _request, reply) => {
      const problem =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? 'has a path segment over the length limit'
          : 'is not valid percent-encoding';
      void (reply as unknown as FastifyReply)
        .status(400)
        .type('application/json')
        .send(
          new ApiError('VALIDATION_FAILED', `the URL ${problem}`, {
            details: [{ field: 'url', message: problem }],
          }).toBody(),
        );
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const hub = new EventHub();
  const stats = new Stats(store, () => clock.now());
  const dispatcher = new Dispatcher(store, clock, { tierGraceMs: config.tierGraceMs });
  await dispatcher.init();
  const timeoutGraceMs = config.leaseTimeoutMs + 60_000;
  const jobs = new JobService(store, clock, hub, dispatcher, stats, {
    logCapBytes: config.logCapBytes,
    timeoutGraceMs,
  });
  const maintenance = new Maintenance(
    store,
    clock,
    jobs,
    dispatcher,
    hub,
    { leaseTimeoutMs: config.leaseTimeoutMs, retentionMs: config.retentionMs, timeoutGraceMs },
    (err, what) => {
      app.log.error({ err }, `${what} failed`);
      const e = err as { code?: string; message: string };
      if (refusesWrites(e)) storeHealth.writeFailed(e.code ?? e.message, Date.now());
    },
  );
  // What the other servers sharing the store commit, applied here whether or not this one
  // leads (a no-op on SQLite). It runs from the start: a request may wait on it at once.
  const feed = new ChangeFeedService(
    store,
    dispatcher,
    hub,
    {
      jobsElsewhere: (changes) => maintenance.jobsElsewhere(changes),
      resync: () => maintenance.checkDue(),
    },
    (err, what) => app.log.error({ err }, `${what} failed`),
  );
  feed.start();
  const auth = new AuthService(store, clock);
  const storeHealth = new StoreHealth();
  const limits = {
    rate: new RateLimiter(config.rateLimit),
    streams: new StreamQuota(config.streamsPerKey),
  };
  const services: Services = {
    config,
    store,
    clock,
    auth,
    hub,
    dispatcher,
    jobs,
    maintenance,
    feed,
    stats,
    storeHealth,
    limits,
    routes: [],
  };
  app.decorate('offload', services);

  installValidators(app);
  installErrorHandler(app);
  installAuth(app, auth, limits.rate);
  // A write route that succeeded: the store takes writes again (StoreHealth).
  // Callback style: no promise per request on the hot path.
  app.addHook('onResponse', (request, reply, done) => {
    if (reply.statusCode < 400 && request.method !== 'GET' && request.method !== 'HEAD')
      storeHealth.writeSucceeded();
    done();
  });

  // Before the swagger plugins, so that their /docs routes get an access rule too.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) route.config = { ...route.config, auth: { public: true } };
    // The dashboard's files are not API operations (plugins/dashboard-static.ts).
    if (route.config?.staticFile) return;
    for (const method of [route.method].flat())
      if (method !== 'HEAD') services.routes.push({ method, url: route.url });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'offload API',
        version: API_VERSION,
        description:
          'Send compute work to a fleet of machines. Every /api/v1 route needs `Authorization: Bearer <token>`; errors have the shape `{error: {code, message, details}}`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    // Each operation says who may call it, from the same rule the auth hook enforces.
    transform: ({ schema, url, route }) => {
      const rule = route.config?.auth;
      if (!schema || !rule) return { schema, url };
      const access = `**Access:** ${describeRule(rule)}.`;
      const description =
        typeof schema.description === 'string' ? `${access}\n\n${schema.description}` : access;
      return { schema: { ...schema, description, ...('public' in rule && { security: [] }) }, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });

  let ready = false;
  app.get(
    '/openapi.json',
    { config: { auth: { public: true } }, schema: { hide: true } },
    async () => app.swagger(),
  );
  systemRoutes(app, services, { ready: () => ready });
  jobsRoutes(app, services);
  attemptsRoutes(app, services);
  logsRoutes(app, services);
  eventsRoutes(app, services);
  agentsRoutes(app, services);
  agentProtocolRoutes(app, services);
  queuesRoutes(app, services);
  keysRoutes(app, services);
  statsHistoryRoutes(app, services);
  await installDashboard(app, options.dashboardDir ?? config.dashboardDir);

  app.addHook('onReady', async () => {
    if (options.startMaintenance !== false) maintenance.start();
    ready = true;
  });
  app.addHook('preClose', async () => {
    ready = false;
    dispatcher.wakeAll('timeout');
    hub.releaseWaiters();
    closeSseStreams(app.server);
    feed.stop();
    await maintenance.stop();
  });
  return app;
}
