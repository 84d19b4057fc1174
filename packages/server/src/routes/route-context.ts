import type {
  FastifyInstance,
  FastifyRequest,
  RawServerDefault,
  FastifyBaseLogger,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Clock, JobRecord } from '@offload/core';
import type { Store } from '@offload/store';
import type { ServerConfig } from '../config.js';
import type { AuthService } from '../services/auth-service.js';
import type { Dispatcher } from '../services/dispatcher.js';
import type { EventHub } from '../services/event-hub.js';
import type { JobService } from '../services/job-service.js';
import type { ChangeFeedService } from '../services/change-feed.js';
import type { Maintenance } from '../services/maintenance.js';
import type { Stats } from '../services/stats.js';
import type { RateLimiter, StreamQuota } from '../services/rate-limiter.js';
import type { StoreHealth } from '../services/store-health.js';
import { isTerminal } from '@offload/core';
import { ErrorBodySchema } from '@offload/protocol';

/** The services routes call; built once in app.ts. */
export interface Services {
  config: Readonly<ServerConfig>;
  store: Store;
  clock: Clock;
  auth: AuthService;
  hub: EventHub;
  dispatcher: Dispatcher;
  jobs: JobService;
  maintenance: Maintenance;
  /** The other servers' changes, applied here. */
  feed: ChangeFeedService;
  stats: Stats;
  storeHealth: StoreHealth;
  /** Per-credential limits: request rate (API keys) and open streams (everyone). */
  limits: { rate: RateLimiter; streams: StreamQuota };
  /** Every route registered (method, url pattern): the auth matrix test checks it has a row for each. */
  routes: Array<{ method: string; url: string }>;
}

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/**
 * Waits until the job is terminal or `ms` pass, without polling: a waiter on the hub,
 * registered before the state is read again so a job that finishes in between is not
 * missed. Gives up early when the client disconnects.
 *
 * The read again waits for the next turn of the event loop. It only guards the moment
 * before the waiter was registered, so it can come later; and a submit that was handed to
 * a parked agent (jobs-routes) would otherwise read while that agent's answer is still
 * being written, in the same turn: the hand-off leg 170–190 → 164–171 µs a lone job
 * (`npm run bench -- --only lone-latency@10k-warm/offload-sqlite --full --segments`, three
 * interleaved pairs, Xeon host), the lone job's p50 −3 %.
 */
export async function waitForJob(
  s: Services,
  request: FastifyRequest,
  job: JobRecord,
  ms: number,
): Promise<JobRecord> {
  if (isTerminal(job.state) || ms <= 0) return job;
  const waiter = s.hub.waitForTerminal(job.id, ms);
  const onClose = () => waiter.cancel();
  request.raw.once('close', onClose);
  try {
    await new Promise((resolve) => setImmediate(resolve));
    const now = await s.store.jobGet({ id: job.id });
    if (!now || isTerminal(now.state)) {
      waiter.cancel();
      return now ?? job;
    }
    return (await waiter.promise) ?? (await s.store.jobGet({ id: job.id })) ?? now;
  } finally {
    request.raw.off('close', onClose);
  }
}

/** Response schemas for the error statuses a route can answer; all share the one error shape. */
export function errorResponses<S extends number>(
  ...statuses: S[]
): Record<S, typeof ErrorBodySchema> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBodySchema])) as Record<
    S,
    typeof ErrorBodySchema
  >;
}
