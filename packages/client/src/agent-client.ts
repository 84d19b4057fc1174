import type {
  AgentRegister,
  AgentRegistered,
  Completion,
  HeartbeatRequest,
  HeartbeatResponse,
  Job,
  LogReport,
  SyncRequest,
  SyncResponse,
} from '@offload/protocol';
import { HttpClient, seg, type RequestPolicy } from './http-client.js';
import { pickTransport, type TransportFactory } from './pick-transport.js';
import type { FetchLike, Transport } from './transport.js';

/** Options of {@link AgentClient}. */
export interface AgentClientOptions extends RequestPolicy {
  /** The server, e.g. `http://127.0.0.1:7070`. */
  url: string;
  /** A join token (to register) or the agent's own secret (everything else). */
  token?: string | undefined;
  fetch?: FetchLike | undefined;
  transport?: Transport | undefined;
}

/** Per-call options of the agent protocol. */
export interface AgentCallOptions {
  /** Aborts the call (a long-polling sync when the agent stops). */
  signal?: AbortSignal | undefined;
}

/** The outcome of one attempt, for {@link AgentClientBase.complete}. */
export type CompletionReport = Omit<Completion, 'jobId'>;

/**
 * The agent side of the API (docs/reference/agent-protocol.md), typed by the protocol schemas,
 * over the same transport, errors and retry rules as {@link Offload}. A thin layer: the agent
 * daemon owns the loops, the state directory and the reconnect policy.
 *
 * Retries: `heartbeat` is idempotent and retried like a read. `register`, `sync`,
 * `reportLogs` and `complete` are retried only when the request cannot have reached the
 * server or was answered 503/429: a sync that was lost in flight may have claimed jobs, and
 * the agent learns their fate from its next sync and heartbeat, not from a blind resend.
 *
 * @example
 * ```ts
 * // One turn of an agent's loop: hand in what finished, take what fits.
 * const res = await agent.sync({ max: 4, waitMs: 25_000, completions: [] });
 * for (const job of res.jobs) console.log('run', job.id, job.payload);
 * for (const lease of res.cancel) console.log('kill', lease);
 * ```
 */
export class AgentClientBase {
  protected readonly http: HttpClient;

  protected constructor(options: AgentClientOptions, defaultTransport: TransportFactory) {
    this.http = new HttpClient(pickTransport(options, defaultTransport), options.token, options);
  }

  /** The bearer token: the join token before registering, then set it to the agent's secret. */
  get token(): string | undefined {
    return this.http.token;
  }
  set token(value: string | undefined) {
    this.http.token = value;
  }

  /** The server URL. */
  get url(): string {
    return this.http.url;
  }

  /**
   * Registers the agent (with a join token: 201 with its `secret`, once) or updates its
   * registration after a restart (with its own secret). A name another live agent uses throws
   * `AGENT_NAME_TAKEN`.
   *
   * @example
   * ```ts
   * const agentClient = new AgentClient({ url: 'http://127.0.0.1:7070', token: process.env.OFFLOAD_JOIN_TOKEN });
   * const reg = await agentClient.register({
   *   name: 'gpu-box-1',
   *   capabilities: ['os:linux', 'gpu'],
   *   resources: { cpu: 16, memoryMb: 64_000, gpus: [{ index: 0, model: 'RTX 4090', memoryMb: 24_564 }] },
   *   maxJobs: 8,
   * });
   * if (reg.secret) agentClient.token = reg.secret; // keep it in the state directory (0600)
   * ```
   */
  async register(body: AgentRegister, options: AgentCallOptions = {}): Promise<AgentRegistered> {
    return this.http.json<AgentRegistered>({
      method: 'POST',
      path: '/api/v1/agent/register',
      body,
      idempotent: false,
      signal: options.signal,
    });
  }

  /**
   * Hands in finished attempts and long-polls for up to `max` jobs that fit (for up to
   * `waitMs`). The answer acknowledges each completion (`acks`), and lists leases to cancel
   * and whether to drain.
   *
   * @example
   * ```ts
   * const res = await agent.sync({ max: 4, waitMs: 25_000, completions: [] });
   * for (const job of res.jobs) console.log(job.id, job.leaseId, job.payload.command);
   * ```
   */
  async sync(body: SyncRequest, options: AgentCallOptions = {}): Promise<SyncResponse> {
    return this.http.json<SyncResponse>({
      method: 'POST',
      path: '/api/v1/agent/sync',
      body,
      holdMs: body.waitMs,
      idempotent: false,
      signal: options.signal,
    });
  }

  /**
   * Renews every lease the agent holds. The answer names leases that are `stale` (kill those
   * process trees, report nothing) and leases to `cancel`.
   *
   * @example
   * ```ts
   * const hb = await agent.heartbeat({ leases: ['lease_1', 'lease_2'], load: 0.4 });
   * for (const lease of hb.stale) console.log('kill', lease);
   * ```
   */
  async heartbeat(
    body: HeartbeatRequest,
    options: AgentCallOptions = {},
  ): Promise<HeartbeatResponse> {
    return this.http.json<HeartbeatResponse>({
      method: 'POST',
      path: '/api/v1/agent/heartbeat',
      body,
      idempotent: true,
      signal: options.signal,
    });
  }

  /**
   * Reports output chunks and progress, batched across jobs. Resolves with the leases whose
   * reports were refused (`stale`).
   *
   * @example
   * ```ts
   * await agent.reportLogs({
   *   logs: [{ jobId: 'job_1', leaseId: 'lease_1', stream: 'stdout', data: 'frame 12\n' }],
   *   progress: [{ jobId: 'job_1', leaseId: 'lease_1', percent: 40, stage: 'encoding' }],
   * });
   * ```
   */
  async reportLogs(body: LogReport, options: AgentCallOptions = {}): Promise<{ stale: string[] }> {
    return this.http.json<{ stale: string[] }>({
      method: 'POST',
      path: '/api/v1/agent/logs',
      body,
      idempotent: false,
      signal: options.signal,
    });
  }

  /**
   * Reports the outcome of one attempt outside the sync loop. Throws `LEASE_STALE` when the
   * lease is no longer current: nothing changed, and the agent must drop the attempt.
   *
   * @example
   * ```ts
   * const job = await agent.complete('job_1', {
   *   leaseId: 'lease_1',
   *   outcome: 'failed',
   *   exitCode: 2,
   *   error: { code: 'EXIT_NONZERO', message: 'exited with 2' },
   *   usage: { wallSec: 1.5 },
   * });
   * console.log(job.state);
   * ```
   */
  async complete(
    jobId: string,
    body: CompletionReport,
    options: AgentCallOptions = {},
  ): Promise<Job> {
    return this.http.json<Job>({
      method: 'POST',
      path: `/api/v1/agent/jobs/${seg(jobId)}/complete`,
      body,
      idempotent: false,
      signal: options.signal,
    });
  }

  /**
   * Closes the keep-alive connections, aborting anything in flight (a parked sync).
   *
   * @example
   * ```ts
   * await agent.close();
   * ```
   */
  async close(): Promise<void> {
    await this.http.transport.close();
  }
}
