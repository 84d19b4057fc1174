// @offload/client — the Node entry: requests go over an undici keep-alive pool.
import { AgentClientBase, type AgentClientOptions } from './agent-client.js';
import { OffloadBase } from './offload.js';
import { createUndiciTransport } from './transport-undici.js';
import type { OffloadOptions } from './types.js';

export * from './public-api.js';
export { createUndiciTransport, type UndiciTransportOptions } from './transport-undici.js';

/**
 * The offload client for Node, over an undici keep-alive connection pool (Node's global
 * `fetch` costs 5.6× the CPU per request). Pass `fetch` to use a `fetch` instead. All methods
 * are documented on {@link OffloadBase}. Import it from `@offload/client`.
 *
 * @example
 * ```ts
 * const client = new Offload({ url: 'http://127.0.0.1:7070', apiKey: process.env.OFFLOAD_API_KEY });
 * const job = await client.submit({ command: 'render.sh 1 10', requires: { gpus: 1 } });
 * const done = await client.wait(job.id);
 * console.log(done.state);
 * ```
 */
export class Offload extends OffloadBase {
  constructor(options: OffloadOptions) {
    super(options, createUndiciTransport);
  }
}

/**
 * The agent-protocol client for Node (undici). Methods on {@link AgentClientBase}. Import it from
 * `@offload/client`.
 *
 * @example
 * ```ts
 * const agentClient = new AgentClient({ url: 'http://127.0.0.1:7070', token: 'offs_…' });
 * const hb = await agentClient.heartbeat({ leases: [] });
 * console.log(hb.leaseTimeoutMs);
 * ```
 */
export class AgentClient extends AgentClientBase {
  constructor(options: AgentClientOptions) {
    super(options, createUndiciTransport);
  }
}
