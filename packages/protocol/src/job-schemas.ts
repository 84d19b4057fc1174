import { Type, type Static } from 'typebox';
import { JOB_ERROR_CODES } from './error-codes.js';
import {
  Capability,
  Id,
  Ident,
  IsoTime,
  LABEL_PATTERN,
  LIMITS,
  PrioritySchema,
  StringEnum,
  StringMap,
} from './common-schemas.js';

export const JOB_STATES = [
  'scheduled',
  'queued',
  'running',
  'succeeded',
  'failed',
  'canceled',
  'expired',
] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TERMINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'canceled', 'expired'];
export const JobStateSchema = StringEnum(JOB_STATES);

export const JOB_KINDS = ['command', 'task'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const RequirementsSchema = Type.Object(
  {
    capabilities: Type.Optional(
      Type.Array(Capability, { maxItems: LIMITS.capabilitiesMaxItems, uniqueItems: true }),
    ),
    cpu: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: LIMITS.maxCpu,
        description: 'CPU slots; fractional or 0 allowed. Default 1 for command jobs, 0 for tasks.',
      }),
    ),
    memoryMb: Type.Optional(Type.Integer({ minimum: 0, maximum: LIMITS.maxMemoryMb })),
    gpus: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: LIMITS.maxGpus,
        description: 'Whole GPUs, exposed as CUDA_VISIBLE_DEVICES.',
      }),
    ),
    gpuMemoryMb: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: LIMITS.maxMemoryMb,
        description: 'Memory each reserved GPU must have.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const BackoffSchema = Type.Object(
  {
    type: StringEnum(['fixed', 'exponential'] as const),
    delaySec: Type.Optional(Type.Number({ minimum: 0, maximum: LIMITS.maxDelaySec })),
    maxDelaySec: Type.Optional(Type.Number({ minimum: 0, maximum: LIMITS.maxDelaySec })),
  },
  { additionalProperties: false },
);
export type BackoffSpec = Static<typeof BackoffSchema>;

const EnvSchema = StringMap(
  { pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 1_024 },
  { maxLength: LIMITS.envValueMaxLength },
  {
    maxProperties: LIMITS.envMaxEntries,
    description: 'Environment variables added to the process.',
  },
);
const TagsSchema = StringMap(
  { minLength: 1, maxLength: LIMITS.identMaxLength, pattern: LABEL_PATTERN },
  { maxLength: LIMITS.tagValueMaxLength, pattern: LABEL_PATTERN },
  { maxProperties: LIMITS.tagsMaxEntries, description: 'Labels for search and grouping.' },
);

/** The body of `POST /jobs`: exactly one of `command` and `task`. */
export const JobSubmitSchema = Type.Object(
  {
    command: Type.Optional(
      Type.Union([
        Type.String({
          minLength: 1,
          maxLength: LIMITS.commandMaxLength,
          description: 'Runs under /bin/sh -c.',
        }),
        Type.Array(Type.String({ maxLength: LIMITS.commandMaxLength }), {
          minItems: 1,
          maxItems: LIMITS.argvMaxItems,
          description: 'argv, run directly.',
        }),
      ]),
    ),
    task: Type.Optional(Ident('Task handler name.')),
    input: Type.Optional(Type.Unknown({ description: 'JSON input of a task job.' })),
    name: Type.Optional(
      Type.String({ minLength: 1, maxLength: LIMITS.nameMaxLength, pattern: LABEL_PATTERN }),
    ),
    queue: Type.Optional(Ident('Queue name (default `default`).')),
    requires: Type.Optional(RequirementsSchema),
    targetAgent: Type.Optional(Ident('Run only on the agent with this name.')),
    pool: Type.Optional(Ident('Run only on agents in this pool.')),
    priority: Type.Optional(PrioritySchema),
    env: Type.Optional(EnvSchema),
    cwd: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.pathMaxLength })),
    nice: Type.Optional(Type.Integer({ minimum: -20, maximum: 19 })),
    timeoutSec: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: LIMITS.maxTimeoutSec })),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.maxAttempts })),
    backoff: Type.Optional(BackoffSchema),
    runAt: Type.Optional(IsoTime),
    delaySec: Type.Optional(Type.Number({ minimum: 0, maximum: LIMITS.maxDelaySec })),
    expireAfterSec: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, maximum: LIMITS.maxDelaySec }),
    ),
    idempotencyKey: Type.Optional(
      Type.String({ minLength: 1, maxLength: LIMITS.nameMaxLength, pattern: LABEL_PATTERN }),
    ),
    tags: Type.Optional(TagsSchema),
  },
  { additionalProperties: false, $id: 'JobSubmit' },
);
export type JobSubmit = Static<typeof JobSubmitSchema>;

export const JobBatchSubmitSchema = Type.Object(
  { jobs: Type.Array(JobSubmitSchema, { minItems: 1, maxItems: LIMITS.batchMaxJobs }) },
  { additionalProperties: false },
);

export const JobErrorSchema = Type.Object(
  { code: StringEnum(JOB_ERROR_CODES), message: Type.String({ maxLength: 65_536 }) },
  { additionalProperties: false },
);
export const ProgressSchema = Type.Object({
  percent: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  stage: Type.Optional(Type.String({ maxLength: 256 })),
  message: Type.Optional(Type.String({ maxLength: 4_096 })),
});
export const UsageSchema = Type.Object(
  {
    wallSec: Type.Number({ minimum: 0 }),
    cpuSec: Type.Optional(Type.Number({ minimum: 0 })),
    maxRssMb: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);

/** A job as the API returns it. Optional fields are absent, not null, when unset. */
export const JobSchema = Type.Object(
  {
    id: Id,
    name: Type.String(),
    kind: StringEnum(JOB_KINDS),
    command: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
    task: Type.Optional(Type.String()),
    input: Type.Optional(Type.Unknown()),
    queue: Type.String(),
    requires: Type.Object({
      capabilities: Type.Array(Type.String()),
      cpu: Type.Number(),
      memoryMb: Type.Integer(),
      gpus: Type.Integer(),
      gpuMemoryMb: Type.Integer(),
    }),
    targetAgent: Type.Optional(Type.String()),
    pool: Type.Optional(Type.String()),
    priority: PrioritySchema,
    env: Type.Optional(Type.Record(Type.String(), Type.String())),
    cwd: Type.Optional(Type.String()),
    nice: Type.Optional(Type.Integer()),
    timeoutSec: Type.Number(),
    maxAttempts: Type.Integer(),
    backoff: Type.Object({
      type: StringEnum(['fixed', 'exponential'] as const),
      delaySec: Type.Number(),
      maxDelaySec: Type.Number(),
    }),
    expireAt: Type.Optional(IsoTime),
    idempotencyKey: Type.Optional(Type.String()),
    tags: Type.Record(Type.String(), Type.String()),
    state: JobStateSchema,
    attempt: Type.Integer({ description: '1-based: the attempt that runs, ran, or runs next.' }),
    runAt: Type.Optional(
      Type.String({ format: 'date-time', description: 'When a scheduled job becomes queued.' }),
    ),
    exitCode: Type.Optional(Type.Integer()),
    signal: Type.Optional(Type.String()),
    result: Type.Optional(Type.Unknown()),
    error: Type.Optional(JobErrorSchema),
    progress: Type.Optional(ProgressSchema),
    usage: Type.Optional(UsageSchema),
    agent: Type.Optional(Type.Object({ id: Type.String(), name: Type.String() })),
    cancelRequested: Type.Optional(Type.Boolean()),
    createdAt: IsoTime,
    queuedAt: Type.Optional(IsoTime),
    startedAt: Type.Optional(IsoTime),
    finishedAt: Type.Optional(IsoTime),
  },
  { $id: 'Job' },
);
export type Job = Static<typeof JobSchema>;

export const JobListQuerySchema = Type.Object(
  {
    state: Type.Optional(JobStateSchema),
    queue: Type.Optional(Ident('Queue name.')),
    agent: Type.Optional(Ident('Agent name.')),
    tag: Type.Optional(
      Type.String({ pattern: '^[^:]+:.*$', maxLength: 512, description: '`key:value`' }),
    ),
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.nameMaxLength,
        description: 'Substring of the job name.',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.listMaxLimit })),
    cursor: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type JobListQuery = Static<typeof JobListQuerySchema>;

export const JobListSchema = Type.Object({
  jobs: Type.Array(JobSchema),
  nextCursor: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});

export const WaitQuerySchema = Type.Object(
  { wait: Type.Optional(Type.Number({ minimum: 0, maximum: LIMITS.maxWaitSec })) },
  { additionalProperties: false },
);
export const WaitTimeoutQuerySchema = Type.Object(
  { timeoutSec: Type.Optional(Type.Number({ minimum: 0, maximum: LIMITS.maxWaitSec })) },
  { additionalProperties: false },
);
export const LogsQuerySchema = Type.Object(
  { follow: Type.Optional(StringEnum(['0', '1', 'true', 'false'] as const)) },
  { additionalProperties: false },
);
