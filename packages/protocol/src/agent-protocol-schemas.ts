import { Type, type Static } from 'typebox';
import { AgentSchema } from './agent-schemas.js';
import { Id, LIMITS, StringEnum } from './common-schemas.js';
import { JobErrorSchema, ProgressSchema, UsageSchema } from './job-schemas.js';

/**
 * The agent side of the API (docs/reference/agent-protocol.md). Every report names the
 * job and the lease it holds; a report for a lease that is no longer current is refused
 * with LEASE_STALE and changes nothing.
 */

export const AgentRegisteredSchema = Type.Object({
  agent: AgentSchema,
  secret: Type.Optional(
    Type.String({
      description: 'The agent credential; returned once, on first registration with a join token.',
    }),
  ),
  leaseTimeoutMs: Type.Integer(),
  heartbeatIntervalMs: Type.Integer(),
});
export type AgentRegistered = Static<typeof AgentRegisteredSchema>;

export const COMPLETION_OUTCOMES = ['succeeded', 'failed', 'handback'] as const;
export type CompletionOutcome = (typeof COMPLETION_OUTCOMES)[number];

/** The outcome of one attempt, or `handback` to return a job unstarted-in-effect (drain). */
export const CompletionSchema = Type.Object(
  {
    jobId: Id,
    leaseId: Id,
    outcome: StringEnum(COMPLETION_OUTCOMES),
    exitCode: Type.Optional(Type.Integer({ minimum: -2_147_483_648, maximum: 2_147_483_647 })),
    signal: Type.Optional(Type.String({ maxLength: 32 })),
    result: Type.Optional(Type.Unknown()),
    error: Type.Optional(JobErrorSchema),
    usage: Type.Optional(UsageSchema),
  },
  { additionalProperties: false },
);
export type Completion = Static<typeof CompletionSchema>;

export const AckSchema = Type.Object({
  jobId: Type.String(),
  ok: Type.Boolean(),
  code: Type.Optional(StringEnum(['LEASE_STALE'] as const)),
});
export type Ack = Static<typeof AckSchema>;

/**
 * `POST /agent/sync`: hand in finished attempts, then wait up to `waitMs` for up to `max`
 * jobs that fit. Returns early when jobs arrive or when one of this agent's jobs is canceled.
 */
export const SyncRequestSchema = Type.Object(
  {
    completions: Type.Optional(
      Type.Array(CompletionSchema, { maxItems: LIMITS.claimMaxJobs * 10 }),
    ),
    max: Type.Integer({ minimum: 0, maximum: LIMITS.claimMaxJobs }),
    waitMs: Type.Integer({ minimum: 0, maximum: 60_000 }),
  },
  { additionalProperties: false },
);
export type SyncRequest = Static<typeof SyncRequestSchema>;

/** What an agent needs to run a job, no more (slim claim responses cost less at large batches). */
export const ClaimedJobSchema = Type.Object({
  id: Type.String(),
  leaseId: Type.String(),
  attempt: Type.Integer(),
  name: Type.String(),
  queue: Type.String(),
  timeoutSec: Type.Number(),
  cpu: Type.Number(),
  memoryMb: Type.Integer(),
  gpus: Type.Array(Type.Integer(), { description: 'GPU indexes reserved for this attempt.' }),
  payload: Type.Object({
    command: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
    task: Type.Optional(Type.String()),
    input: Type.Optional(Type.Unknown()),
    env: Type.Optional(Type.Record(Type.String(), Type.String())),
    cwd: Type.Optional(Type.String()),
    nice: Type.Optional(Type.Integer()),
  }),
});
export type ClaimedJob = Static<typeof ClaimedJobSchema>;

export const SyncResponseSchema = Type.Object({
  jobs: Type.Array(ClaimedJobSchema),
  acks: Type.Array(AckSchema),
  cancel: Type.Array(Type.String(), {
    description: 'Lease ids whose process trees the agent must kill (canceled).',
  }),
  drain: Type.Boolean({
    description: 'The agent is asked to drain: finish what runs, take nothing new.',
  }),
});
export type SyncResponse = Static<typeof SyncResponseSchema>;

/** `POST /agent/heartbeat`: renews the agent's leases; tells which leases are gone and which jobs to cancel. */
export const HeartbeatRequestSchema = Type.Object(
  {
    leases: Type.Array(Id, { maxItems: 100_000, description: 'Every lease the agent holds.' }),
    draining: Type.Optional(Type.Boolean()),
    load: Type.Optional(Type.Number({ minimum: 0, maximum: 100_000 })),
  },
  { additionalProperties: false },
);
export type HeartbeatRequest = Static<typeof HeartbeatRequestSchema>;
export const HeartbeatResponseSchema = Type.Object({
  stale: Type.Array(Type.String(), {
    description: 'Leases no longer current: kill their process trees, report nothing.',
  }),
  cancel: Type.Array(Type.String(), {
    description: 'Leases whose jobs were canceled: kill, then complete as failed with CANCELED.',
  }),
  drain: Type.Boolean(),
  leaseTimeoutMs: Type.Integer(),
});
export type HeartbeatResponse = Static<typeof HeartbeatResponseSchema>;

/** `POST /agent/logs`: output chunks and progress, batched across jobs. */
export const LogReportSchema = Type.Object(
  {
    logs: Type.Optional(
      Type.Array(
        Type.Object(
          {
            jobId: Id,
            leaseId: Id,
            stream: StringEnum(['stdout', 'stderr'] as const),
            data: Type.String({ maxLength: 1_048_576 }),
          },
          { additionalProperties: false },
        ),
        { maxItems: 10_000 },
      ),
    ),
    progress: Type.Optional(
      Type.Array(
        Type.Object(
          { jobId: Id, leaseId: Id, ...ProgressSchema.properties },
          { additionalProperties: false },
        ),
        { maxItems: 10_000 },
      ),
    ),
  },
  { additionalProperties: false },
);
export type LogReport = Static<typeof LogReportSchema>;
export const LogReportResponseSchema = Type.Object({
  stale: Type.Array(Type.String(), { description: 'Lease ids whose reports were refused.' }),
});
