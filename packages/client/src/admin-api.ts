import type { Agent, Key, KeyCreate, KeyCreated, Queue } from '@offload/protocol';
import { seg, type HttpClient } from './http-client.js';

/** `off.agents`: the fleet. Reading needs the `read` scope; the rest `admin`. */
export class AgentsApi {
  readonly #http: HttpClient;

  /** @internal */
  constructor(http: HttpClient) {
    this.#http = http;
  }

  /**
   * Agents with their state, capabilities, resources (total and free) and running jobs.
   *
   * @example
   * ```ts
   * for (const a of await off.agents.list()) console.log(a.name, a.state, a.runningJobs.length);
   * ```
   */
  async list(options: { includeRevoked?: boolean } = {}): Promise<Agent[]> {
    const res = await this.#http.json<{ agents: Agent[] }>({
      method: 'GET',
      path: '/api/v1/agents',
      query: { includeRevoked: options.includeRevoked },
      idempotent: true,
    });
    return res.agents;
  }

  /**
   * One agent, by id or name. Throws `AGENT_NOT_FOUND` when there is none.
   *
   * @example
   * ```ts
   * const gpuBox = await off.agents.get('gpu-box-1');
   * console.log(gpuBox.free.gpus);
   * ```
   */
  async get(idOrName: string): Promise<Agent> {
    return this.#http.json<Agent>({
      method: 'GET',
      path: `/api/v1/agents/${seg(idOrName)}`,
      idempotent: true,
    });
  }

  /**
   * Drains an agent: it finishes what it runs and takes nothing new.
   *
   * @example
   * ```ts
   * const a = await off.agents.drain('gpu-box-1');
   * console.log(a.state); // 'draining'
   * ```
   */
  async drain(idOrName: string): Promise<Agent> {
    return this.#http.json<Agent>({
      method: 'POST',
      path: `/api/v1/agents/${seg(idOrName)}/drain`,
      idempotent: true,
    });
  }

  /**
   * Puts a drained agent back to work.
   *
   * @example
   * ```ts
   * await off.agents.resume('gpu-box-1');
   * ```
   */
  async resume(idOrName: string): Promise<Agent> {
    return this.#http.json<Agent>({
      method: 'POST',
      path: `/api/v1/agents/${seg(idOrName)}/resume`,
      idempotent: true,
    });
  }

  /**
   * Revokes an agent: its credential stops working at once and its jobs are retried elsewhere.
   *
   * @example
   * ```ts
   * const a = await off.agents.revoke('old-box');
   * console.log(a.state); // 'revoked'
   * ```
   */
  async revoke(idOrName: string): Promise<Agent> {
    return this.#http.json<Agent>({
      method: 'DELETE',
      path: `/api/v1/agents/${seg(idOrName)}`,
      idempotent: true,
    });
  }
}

/** `off.queues`: depth by state and the pause flag. Listing needs `read`; pause/resume `admin`. */
export class QueuesApi {
  readonly #http: HttpClient;

  /** @internal */
  constructor(http: HttpClient) {
    this.#http = http;
  }

  /**
   * Every queue with its job counts by state and whether it is paused.
   *
   * @example
   * ```ts
   * for (const q of await off.queues.list()) console.log(q.name, q.paused, q.counts.queued);
   * ```
   */
  async list(): Promise<Queue[]> {
    const res = await this.#http.json<{ queues: Queue[] }>({
      method: 'GET',
      path: '/api/v1/queues',
      idempotent: true,
    });
    return res.queues;
  }

  /**
   * Pauses a queue: its jobs stay queued and are not handed out; running jobs go on.
   *
   * @example
   * ```ts
   * await off.queues.pause('renders');
   * ```
   */
  async pause(name: string): Promise<Queue> {
    return this.#http.json<Queue>({
      method: 'POST',
      path: `/api/v1/queues/${seg(name)}/pause`,
      idempotent: true,
    });
  }

  /**
   * Resumes a paused queue.
   *
   * @example
   * ```ts
   * const q = await off.queues.resume('renders');
   * console.log(q.paused); // false
   * ```
   */
  async resume(name: string): Promise<Queue> {
    return this.#http.json<Queue>({
      method: 'POST',
      path: `/api/v1/queues/${seg(name)}/resume`,
      idempotent: true,
    });
  }
}

/** `off.keys`: API keys and join tokens. Needs the `admin` scope. */
export class KeysApi {
  readonly #http: HttpClient;

  /** @internal */
  constructor(http: HttpClient) {
    this.#http = http;
  }

  /**
   * API keys and join tokens, never their secrets.
   *
   * @example
   * ```ts
   * for (const k of await off.keys.list()) console.log(k.id, k.kind, k.name, k.scopes);
   * ```
   */
  async list(): Promise<Key[]> {
    const res = await this.#http.json<{ keys: Key[] }>({
      method: 'GET',
      path: '/api/v1/keys',
      idempotent: true,
    });
    return res.keys;
  }

  /**
   * Creates an API key or a join token. The secret is in `token`, in this answer only. Not
   * retried after a failure that may have reached the server (it would mint a second key).
   *
   * @example
   * ```ts
   * const key = await off.keys.create({ kind: 'api-key', name: 'ci', scopes: ['submit', 'read'] });
   * const join = await off.keys.create({ kind: 'join-token', name: 'rack-2', ttlSec: 3600 });
   * console.log(key.token, join.token);
   * ```
   */
  async create(body: KeyCreate): Promise<KeyCreated> {
    return this.#http.json<KeyCreated>({
      method: 'POST',
      path: '/api/v1/keys',
      body,
      idempotent: false,
    });
  }

  /**
   * Revokes an API key or join token by id; it stops working at once.
   *
   * @example
   * ```ts
   * const k = await off.keys.revoke('key_123');
   * console.log(k.revokedAt);
   * ```
   */
  async revoke(id: string): Promise<Key> {
    return this.#http.json<Key>({
      method: 'DELETE',
      path: `/api/v1/keys/${seg(id)}`,
      idempotent: true,
    });
  }
}
