import { Type, type Static } from 'typebox';
import { Capability, Id, Ident, IsoTime, LIMITS, StringEnum } from './common-schemas.js';

export const AGENT_STATES = ['online', 'draining', 'offline', 'revoked'] as const;
export type AgentState = (typeof AGENT_STATES)[number];

export const GpuSchema = Type.Object(
  {
    index: Type.Integer({ minimum: 0, maximum: 1023 }),
    model: Type.String({ maxLength: 256 }),
    memoryMb: Type.Integer({ minimum: 0, maximum: LIMITS.maxMemoryMb }),
  },
  { additionalProperties: false },
);
export type Gpu = Static<typeof GpuSchema>;

export const AgentResourcesSchema = Type.Object(
  {
    cpu: Type.Number({ minimum: 0, maximum: LIMITS.maxCpu }),
    memoryMb: Type.Integer({ minimum: 0, maximum: LIMITS.maxMemoryMb }),
    gpus: Type.Array(GpuSchema, { maxItems: LIMITS.maxGpus }),
  },
  { additionalProperties: false },
);
export type AgentResources = Static<typeof AgentResourcesSchema>;

/** An agent as the API returns it. */
export const AgentSchema = Type.Object(
  {
    id: Id,
    name: Type.String(),
    state: StringEnum(AGENT_STATES),
    capabilities: Type.Array(Type.String()),
    tier: Type.Integer(),
    pools: Type.Array(Type.String()),
    maxJobs: Type.Integer(),
    resources: AgentResourcesSchema,
    free: Type.Object({
      cpu: Type.Number(),
      memoryMb: Type.Integer(),
      gpus: Type.Array(Type.Integer(), { description: 'Indexes of free GPUs.' }),
    }),
    runningJobs: Type.Array(Type.String(), { description: 'Ids of the jobs it runs.' }),
    hostname: Type.Optional(Type.String()),
    os: Type.Optional(Type.String()),
    arch: Type.Optional(Type.String()),
    version: Type.Optional(Type.String()),
    lastSeenAt: IsoTime,
    createdAt: IsoTime,
  },
  { $id: 'Agent' },
);
export type Agent = Static<typeof AgentSchema>;

export const AgentListSchema = Type.Object({ agents: Type.Array(AgentSchema) });

export const AgentRegisterSchema = Type.Object(
  {
    name: Ident('Unique agent name (default: hostname).'),
    hostname: Type.Optional(Type.String({ maxLength: 256 })),
    os: Type.Optional(Type.String({ maxLength: 64 })),
    arch: Type.Optional(Type.String({ maxLength: 64 })),
    version: Type.Optional(Type.String({ maxLength: 64 })),
    capabilities: Type.Array(Capability, { maxItems: 1_024, uniqueItems: true }),
    resources: AgentResourcesSchema,
    tier: Type.Optional(Type.Integer({ minimum: -1_000, maximum: 1_000 })),
    pools: Type.Optional(Type.Array(Ident('Pool name.'), { maxItems: 64, uniqueItems: true })),
    maxJobs: Type.Integer({ minimum: 1, maximum: 100_000 }),
  },
  { additionalProperties: false },
);
export type AgentRegister = Static<typeof AgentRegisterSchema>;
