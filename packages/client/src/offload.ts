import {
  TERMINAL_STATES,
  type Agent,
  type Attempt,
  type Job,
  type JobSubmit,
  type Stats,
  type StatsHistory,
  type Whoami,
} from '@offload/protocol';
import { AgentsApi, KeysApi, QueuesApi } from './admin-api.js';
import { JobFailedError, OffloadTimeoutError } from './errors.js';
import { HttpClient, seg } from './http-client.js';
import { SseSubscription, type LiveStream } from './sse-subscription.js';
import { pickTransport, type TransportFactory } from './pick-transport.js';
import type {
  AgentEventType,
  EventsFilter,
  JobEventType,
  FollowLogsOptions,
  Health,
  JobListFilter,
  JobPage,
  LogChunk,
  LogStream,
  LogsOptions,
  OffloadEvent,
  OffloadOptions,
  SubmitOptions,
  WaitOptions,
} from './types.js';

/** One long poll of `/wait` holds at most this long; `wait()` loops them up to its own timeout. */
const WAIT_POLL_SEC = 30;

const isTerminal = (job: Job) => TERMINAL_STATES.includes(job.state);

/**
 * The offload client: jobs, logs, events, agents, queues, keys. Construct {@link Offload} from
 * `@offload/client` (Node, undici keep-alive pool) or from `@offload/client/browser` (fetch);
 * both are this class with a different default transport.
 *
 * Every call throws the SDK's typed errors: {@link OffloadApiError} (one subclass per API
 * code), {@link OffloadNetworkError}, {@link OffloadTimeoutError}. Network errors, timeouts,
 * 503 and 429 (after `Retry-After`) are retried up to `retries` times with full-jitter
 * backoff — but only where sending twice is safe: reads and state-setting calls always;
 * `submit`, `submitBatch`, `cancel`, `retry` and `keys.create` only when the failure happened
 * before the request could reach the server, or when the server answered 503/429 (it applied
 * nothing). `submit` of a spec with an `idempotencyKey` is safe, so it is always retried.
 *
 * @example
 * ```ts
 * const job = await off.submit({ command: 'render.sh 1 10', requires: { gpus: 1 } });
 * const done = await off.wait(job.id); // terminal job
 * const out = await off.run({ command: ['echo', 'hi'] }); // submit + wait, throws on failure
 * for await (const chunk of off.logs(job.id, { follow: true })) process.stdout.write(chunk.data);
 * for await (const ev of off.events({ jobId: job.id })) console.log(ev.type);
 * console.log(done.state, out.exitCode);
 * ```
 */
export class OffloadBase {
  /** The shared request engine (token, timeouts, retries). */
  protected readonly http: HttpClient;
  /** Agents: list, get, drain, resume, revoke. */
  readonly agents: AgentsApi;
  /** Queues: list, pause, resume. */
  readonly queues: QueuesApi;
  /** API keys and join tokens: list, create, revoke. */
  readonly keys: KeysApi;

  protected constructor(options: OffloadOptions, defaultTransport: TransportFactory) {
    this.http = new HttpClient(pickTransport(options, defaultTransport), options.apiKey, options);
    this.agents = new AgentsApi(this.http);
    this.queues = new QueuesApi(this.http);
    this.keys = new KeysApi(this.http);
  }

  /** The server URL this client talks to. */
  get url(): string {
    return this.http.url;
  }

  /**
   * Submits one job. Resolves with the job (201), or with the existing job when the spec repeats
   * an `idempotencyKey` (200). With `wait`, the server holds the request until the job is
   * terminal or `wait` seconds pass, and the job comes back in whatever state it is.
   *
   * Retries: a spec with an `idempotencyKey` is retried like a read (the server deduplicates);
   * one without is retried only when the request cannot have reached the server (connection
   * refused, DNS) or was answered 503/429 — never after a timeout or a dropped connection,
   * which could submit it twice.
   *
   * @example
   * ```ts
   * const job = await off.submit({ command: 'render.sh 1 10', requires: { gpus: 1 } });
   * console.log(job.id, job.state); // job_… queued
   *
   * // Safe to retry from your side too: a repeat returns the first job.
   * await off.submit({ command: ['make', 'test'], idempotencyKey: 'ci-4711' });
   *
   * // Short jobs: one round trip.
   * const done = await off.submit({ command: ['echo', 'hi'] }, { wait: 10 });
   * ```
   */
  async submit(spec: JobSubmit, options: SubmitOptions = {}): Promise<Job> {
    return this.http.json<Job>({
      method: 'POST',
      path: '/api/v1/jobs',
      query: { wait: options.wait },
      body: spec,
      idempotent: spec.idempotencyKey !== undefined,
      holdMs: (options.wait ?? 0) * 1000,
      signal: options.signal,
    });
  }

  /**
   * Submits up to 10,000 jobs in one request: all valid and stored, or none. Resolves with the
   * jobs in the order given. Retried like {@link OffloadBase.submit}: freely only when every
   * spec has an `idempotencyKey`.
   *
   * @example
   * ```ts
   * const frames = Array.from({ length: 100 }, (_, i) => ({
   *   command: ['render.sh', String(i)],
   *   idempotencyKey: `shot-12-frame-${i}`,
   * }));
   * const jobs = await off.submitBatch(frames);
   * console.log(jobs.length); // 100
   * ```
   */
  async submitBatch(specs: readonly JobSubmit[]): Promise<Job[]> {
    const res = await this.http.json<{ jobs: Job[] }>({
      method: 'POST',
      path: '/api/v1/jobs/batch',
      body: { jobs: specs },
      idempotent: specs.every((s) => s.idempotencyKey !== undefined),
    });
    return res.jobs;
  }

  /**
   * One job by id. Throws `JOB_NOT_FOUND` (an instance of `ApiErrorClasses.JOB_NOT_FOUND`)
   * when there is none.
   *
   * @example
   * ```ts
   * const job = await off.get('job_123');
   * console.log(job.state, job.progress?.percent, job.exitCode);
   * ```
   */
  async get(id: string): Promise<Job> {
    return this.http.json<Job>({
      method: 'GET',
      path: `/api/v1/jobs/${seg(id)}`,
      idempotent: true,
    });
  }

  /**
   * One page of jobs, newest first. Pass the returned `nextCursor` as `cursor` for the next.
   *
   * @example
   * ```ts
   * let page = await off.listPage({ state: 'failed', limit: 50 });
   * console.log(page.jobs.length);
   * if (page.nextCursor) page = await off.listPage({ state: 'failed', limit: 50, cursor: page.nextCursor });
   * ```
   */
  async listPage(filter: JobListFilter & { cursor?: string | undefined } = {}): Promise<JobPage> {
    const res = await this.http.json<{ jobs: Job[]; nextCursor?: string | null }>({
      method: 'GET',
      path: '/api/v1/jobs',
      query: { ...filter },
      idempotent: true,
    });
    return { jobs: res.jobs, nextCursor: res.nextCursor ?? null };
  }

  /**
   * Every job that matches, newest first, fetching page after page (`limit` is the page size)
   * as the loop goes on. Stop early with `break`.
   *
   * @example
   * ```ts
   * for await (const job of off.list({ queue: 'renders', state: 'succeeded' })) {
   *   console.log(job.id, job.usage?.wallSec);
   * }
   * ```
   */
  async *list(filter: JobListFilter = {}): AsyncGenerator<Job, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.listPage({ ...filter, ...(cursor !== undefined && { cursor }) });
      yield* page.jobs;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /**
   * Waits until the job is terminal (`succeeded`, `failed`, `canceled`, `expired`) and resolves
   * with it, whatever the outcome. Long-polls the server (each poll returns the moment the job
   * finishes), so it costs no polling. Throws {@link OffloadTimeoutError} (with the job as last
   * seen) after `timeoutSec`.
   *
   * @example
   * ```ts
   * const job = await off.submit({ command: ['sleep', '2'] });
   * const done = await off.wait(job.id, { timeoutSec: 60 });
   * console.log(done.state, done.exitCode);
   * ```
   */
  async wait(id: string, options: WaitOptions = {}): Promise<Job> {
    const deadline =
      options.timeoutSec === undefined ? Infinity : Date.now() + options.timeoutSec * 1000;
    return this.waitUntil(id, deadline, options);
  }

  private async waitUntil(
    id: string,
    deadline: number,
    options: WaitOptions,
    seen?: Job,
  ): Promise<Job> {
    let job = seen;
    for (;;) {
      if (job && isTerminal(job)) return job;
      const remainingMs = deadline - Date.now();
      if (job && remainingMs <= 0) {
        throw new OffloadTimeoutError(
          `job ${id} is still ${job.state} after ${options.timeoutSec ?? 0} s`,
          (options.timeoutSec ?? 0) * 1000,
          { job },
        );
      }
      const pollSec = Math.max(0, Math.min(WAIT_POLL_SEC, Math.ceil(remainingMs) / 1000));
      job = await this.http.json<Job>({
        method: 'GET',
        path: `/api/v1/jobs/${seg(id)}/wait`,
        query: { timeoutSec: pollSec },
        holdMs: pollSec * 1000,
        idempotent: true,
        signal: options.signal,
      });
    }
  }

  /**
   * Submits a job and waits for it: resolves with the job when it succeeded, throws
   * {@link JobFailedError} (carrying the job) when it ended `failed`, `canceled` or `expired`,
   * and {@link OffloadTimeoutError} after `timeoutSec`. The submit itself holds for the first
   * seconds, so a short job takes one round trip.
   *
   * @example
   * ```ts
   * const job = await off.run({ task: 'thumbnail', input: { src: 's3://bucket/a.png' } });
   * console.log(job.result);
   *
   * try {
   *   await off.run({ command: ['sh', '-c', 'exit 3'] }, { timeoutSec: 60 });
   * } catch (err) {
   *   if (err instanceof JobFailedError) console.log(err.job.exitCode); // 3
   * }
   * ```
   */
  async run(spec: JobSubmit, options: WaitOptions = {}): Promise<Job> {
    const deadline =
      options.timeoutSec === undefined ? Infinity : Date.now() + options.timeoutSec * 1000;
    const holdSec = Math.min(WAIT_POLL_SEC, options.timeoutSec ?? WAIT_POLL_SEC);
    const submitted = await this.submit(spec, { wait: holdSec, signal: options.signal });
    const job = await this.waitUntil(submitted.id, deadline, options, submitted);
    if (job.state !== 'succeeded') throw new JobFailedError(job);
    return job;
  }

  /**
   * Cancels a job. Scheduled or queued: canceled at once. Running: resolves with the job still
   * `running` (`cancelRequested: true`) while its agent kills the process tree; `wait()` for the
   * end. A finished job: throws `INVALID_STATE`.
   *
   * @example
   * ```ts
   * const job = await off.cancel('job_123');
   * if (job.state !== 'canceled') await off.wait(job.id);
   * ```
   */
  async cancel(id: string): Promise<Job> {
    return this.http.json<Job>({
      method: 'POST',
      path: `/api/v1/jobs/${seg(id)}/cancel`,
      idempotent: false,
    });
  }

  /**
   * Sends a finished job back to the queue as a new attempt.
   *
   * @example
   * ```ts
   * const again = await off.retry('job_123');
   * console.log(again.state); // 'queued'
   * ```
   */
  async retry(id: string): Promise<Job> {
    return this.http.json<Job>({
      method: 'POST',
      path: `/api/v1/jobs/${seg(id)}/retry`,
      idempotent: false,
    });
  }

  /**
   * A job's attempts, oldest first: for each, the attempt number, the agent that ran it,
   * `startedAt` and `endedAt`, the `outcome` (`succeeded`, `failed`, `timed-out`,
   * `agent-lost`, `canceled`, `handed-back`, or `running` for the one running now, which
   * comes last), the exit code or signal and the error. A hand-back keeps the attempt number,
   * so the next entry shares it. Throws `JOB_NOT_FOUND` for an unknown job.
   *
   * @example
   * ```ts
   * for (const a of await off.attempts('job_123')) {
   *   console.log(a.attempt, a.agent.name, a.outcome, a.exitCode ?? a.error?.code ?? '');
   * }
   * ```
   */
  async attempts(id: string): Promise<Attempt[]> {
    const res = await this.http.json<{ attempts: Attempt[] }>({
      method: 'GET',
      path: `/api/v1/jobs/${seg(id)}/attempts`,
      idempotent: true,
    });
    return res.attempts;
  }

  /**
   * A job's output. Without `follow`: stdout and stderr so far, interleaved in order, as text.
   * With `follow: true`: an async iterator of `{stream, data}` chunks as the job writes them,
   * from the beginning, ending when the job is terminal (then `stream.job` is the final job).
   * A dropped connection is resumed without repeating chunks already delivered.
   *
   * @example
   * ```ts
   * console.log(await off.logs('job_123'));
   *
   * const follow = off.logs('job_123', { follow: true });
   * for await (const chunk of follow) {
   *   (chunk.stream === 'stderr' ? process.stderr : process.stdout).write(chunk.data);
   * }
   * console.log('exit code', follow.job?.exitCode);
   * ```
   */
  logs(id: string, options?: LogsOptions): Promise<string>;
  logs(id: string, options: FollowLogsOptions): LogStream;
  logs(id: string, options: LogsOptions | FollowLogsOptions = {}): Promise<string> | LogStream {
    if (!options.follow) {
      return this.http.text({
        method: 'GET',
        path: `/api/v1/jobs/${seg(id)}/logs`,
        idempotent: true,
      });
    }
    let delivered = 0;
    let seenThisConnection = 0;
    let job: Job | undefined;
    const sub = new SseSubscription<LogChunk>({
      http: this.http,
      call: { path: `/api/v1/jobs/${seg(id)}/logs`, query: { follow: 1 } },
      signal: options.signal,
      idleTimeoutMs: options.idleTimeoutMs,
      // Each connection replays the output from the start: skip what was already delivered.
      onConnect: () => (seenThisConnection = 0),
      handle: (ev) => {
        if (ev.event === 'end') {
          job = (JSON.parse(ev.data) as Job | null) ?? undefined;
          return 'end';
        }
        if (ev.event !== 'stdout' && ev.event !== 'stderr') return 'skip';
        if (++seenThisConnection <= delivered) return 'skip';
        delivered++;
        return { value: { stream: ev.event, data: JSON.parse(ev.data) as string } };
      },
    });
    return Object.defineProperty(sub, 'job', {
      get: () => job,
      enumerable: true,
    }) as unknown as LogStream;
  }

  /**
   * Live events as an async iterator: `{type: 'job.succeeded', job}`, `{type: 'agent.online',
   * agent}`, ... Filter by job, queue and types (`job.*` for a group). After a drop it
   * reconnects with backoff and resubscribes (events during the gap are not replayed: the
   * server keeps no history; re-read what matters with `get`). `break`, `close()` or the
   * `signal` close the connection. Call `connect()` first to be sure to see what you do next.
   *
   * @example
   * ```ts
   * const events = off.events({ types: ['job.succeeded', 'job.failed'] });
   * await events.connect();
   * for await (const ev of events) {
   *   if ('job' in ev) console.log(ev.type, ev.job.id, ev.job.exitCode);
   * }
   * ```
   */
  events(filter: EventsFilter = {}): LiveStream<OffloadEvent> {
    return new SseSubscription<OffloadEvent>({
      http: this.http,
      call: {
        path: '/api/v1/events',
        query: { jobId: filter.jobId, queue: filter.queue, types: filter.types?.join(',') },
      },
      signal: filter.signal,
      idleTimeoutMs: filter.idleTimeoutMs,
      handle: (ev) => {
        if (ev.event.startsWith('job.')) {
          return { value: { type: ev.event as JobEventType, job: JSON.parse(ev.data) as Job } };
        }
        if (ev.event.startsWith('agent.')) {
          const type = ev.event as AgentEventType;
          return { value: { type, agent: JSON.parse(ev.data) as Agent } };
        }
        return 'skip';
      },
    });
  }

  /**
   * The credential this client uses, as the server sees it: `kind` (`admin` or `api-key`), its
   * id and name, the scopes it has and the queues and capabilities it is limited to. Any key
   * may ask, whatever its scopes.
   *
   * @example
   * ```ts
   * const me = await off.whoami();
   * if (!me.scopes.includes('cancel')) console.log(`${me.name ?? me.kind} cannot cancel jobs`);
   * ```
   */
  async whoami(): Promise<Whoami> {
    return this.http.json<Whoami>({ method: 'GET', path: '/api/v1/whoami', idempotent: true });
  }

  /**
   * Job counts by state, agents by state, throughput and queue wait (p50/p95).
   *
   * @example
   * ```ts
   * const s = await off.stats();
   * console.log(s.counts.queued, s.agents.online, s.queueWaitMs.p95);
   * ```
   */
  async stats(): Promise<Stats> {
    return this.http.json<Stats>({ method: 'GET', path: '/api/v1/stats', idempotent: true });
  }

  /**
   * The last hour, minute by minute, oldest first: jobs started, succeeded and failed, and
   * the queue wait p50/p95 of the jobs started in each minute. Measured by the server
   * answering since it started (in memory, not shared between servers).
   *
   * @example
   * ```ts
   * const { minutes } = await off.statsHistory();
   * const last = minutes[minutes.length - 1];
   * console.log(last?.at, last?.succeeded, last?.queueWaitP95Ms);
   * ```
   */
  async statsHistory(): Promise<StatsHistory> {
    return this.http.json<StatsHistory>({
      method: 'GET',
      path: '/api/v1/stats/history',
      idempotent: true,
    });
  }

  /**
   * Whether the server answers and is ready (its store reachable): `{ready: true}`, or
   * `{ready: false, reason}` while it starts or its store is down. Throws
   * {@link OffloadNetworkError} when nothing answers. Needs no credential.
   *
   * @example
   * ```ts
   * const h = await off.health();
   * if (!h.ready) console.error('offload server not ready:', h.reason);
   * ```
   */
  async health(): Promise<Health> {
    const res = await this.http.jsonWithStatus<{ error?: { message?: string } }>({
      method: 'GET',
      path: '/readyz',
      idempotent: true,
      accept: [503],
    });
    if (res.status < 300) return { ready: true };
    return { ready: false, reason: res.body.error?.message ?? `HTTP ${res.status}` };
  }

  /**
   * Closes the client's keep-alive connections, aborting anything still in flight. Optional:
   * idle connections do not keep a Node process alive.
   *
   * @example
   * ```ts
   * await off.close();
   * ```
   */
  async close(): Promise<void> {
    await this.http.transport.close();
  }
}
