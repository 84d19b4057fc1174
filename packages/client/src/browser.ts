// @offload/client/browser — the browser entry: requests go over the global fetch. Nothing in
// this file's import graph may import a Node built-in or undici (test/browser.test.ts checks).
import { AgentClientBase, type AgentClientOptions } from './agent-client.js';
import { OffloadBase } from './offload.js';
import { createFetchTransport } from './transport-fetch.js';
import type { OffloadOptions } from './types.js';

export * from './public-api.js';

/**
 * The offload client for browsers (and any runtime with `fetch`). All methods are documented
 * on {@link OffloadBase}. Import it from `@offload/client/browser`.
 *
 * @example
 * ```ts
 * const client = new Offload({ url: 'https://offload.example.com', apiKey: 'offk_…' });
 * for await (const ev of client.events({ types: ['job.*'] })) {
 *   if ('job' in ev) console.log(ev.type, ev.job.id);
 * }
 * ```
 */
export class Offload extends OffloadBase {
  constructor(options: OffloadOptions) {
    super(options, createFetchTransport);
  }
}

/**
 * The agent-protocol client over `fetch`. Methods on {@link AgentClientBase}. Import it
 * from `@offload/client/browser`.
 *
 * @example
 * ```ts
 * const agentClient = new AgentClient({ url: 'https://offload.example.com', token: 'offs_…' });
 * await agentClient.heartbeat({ leases: [] });
 * ```
 */
export class AgentClient extends AgentClientBase {
  constructor(options: AgentClientOptions) {
    super(options, createFetchTransport);
  }
}
