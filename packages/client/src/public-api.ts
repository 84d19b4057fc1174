// Everything both entry points export: the transport-agnostic part of the SDK.
export {
  OffloadError,
  OffloadApiError,
  OffloadNetworkError,
  OffloadTimeoutError,
  JobFailedError,
  ApiErrorClasses,
  type ApiErrorClass,
  type ApiErrorCodeLike,
} from './errors.js';
export { OffloadBase } from './offload.js';
export type { TransportFactory } from './pick-transport.js';
export { AgentsApi, QueuesApi, KeysApi } from './admin-api.js';
export {
  AgentClientBase,
  type AgentClientOptions,
  type AgentCallOptions,
  type CompletionReport,
} from './agent-client.js';
export type { LiveStream } from './sse-subscription.js';
export type { RequestPolicy } from './http-client.js';
export { createFetchTransport, type FetchTransportOptions } from './transport-fetch.js';
export { TransportTimeoutError } from './transport.js';
export type {
  Transport,
  TransportRequest,
  TransportResponse,
  FetchLike,
  FetchResponseLike,
} from './transport.js';
export type * from './types.js';
/** Every job state in lifecycle order, and those a job ends in (SPEC §3). */
export { JOB_STATES, TERMINAL_STATES } from '@offload/protocol';
export type {
  Agent,
  AgentRegister,
  AgentRegistered,
  ApiErrorCode,
  Attempt,
  AttemptOutcomeName,
  Completion,
  HeartbeatRequest,
  HeartbeatResponse,
  Job,
  JobState,
  JobSubmit,
  Key,
  KeyCreate,
  KeyCreated,
  LogReport,
  Priority,
  Queue,
  Scope,
  Stats,
  StatsHistory,
  StatsMinute,
  SyncRequest,
  SyncResponse,
  ClaimedJob,
  Whoami,
} from '@offload/protocol';
