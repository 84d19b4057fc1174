import { Type, type Static } from 'typebox';
import { IsoTime, StringEnum } from './common-schemas.js';
import { JobErrorSchema } from './job-schemas.js';

/**
 * How an attempt ended, in the words of the job states and error codes: `succeeded`,
 * `failed` (the command or task failed), `timed-out` (TIMEOUT), `agent-lost` (AGENT_LOST:
 * the lease expired or the agent was revoked), `canceled`, `handed-back` (the agent gave
 * the job back unrun, e.g. while draining: the same attempt number runs again), and
 * `running` for the attempt that holds the job's lease now.
 */
export const ATTEMPT_OUTCOMES = [
  'running',
  'succeeded',
  'failed',
  'timed-out',
  'agent-lost',
  'canceled',
  'handed-back',
] as const;
export type AttemptOutcomeName = (typeof ATTEMPT_OUTCOMES)[number];

/** One attempt of a job as the API returns it. Optional fields are absent when unset. */
export const AttemptSchema = Type.Object(
  {
    attempt: Type.Integer({
      minimum: 1,
      description:
        "The job's attempt number when it ran; a hand-back keeps the number, so the next run shares it.",
    }),
    agent: Type.Object({ id: Type.String(), name: Type.String() }),
    startedAt: IsoTime,
    endedAt: Type.Optional(IsoTime),
    outcome: StringEnum(ATTEMPT_OUTCOMES),
    exitCode: Type.Optional(Type.Integer()),
    signal: Type.Optional(Type.String()),
    error: Type.Optional(JobErrorSchema),
  },
  { $id: 'Attempt' },
);
export type Attempt = Static<typeof AttemptSchema>;

export const AttemptListSchema = Type.Object({
  attempts: Type.Array(AttemptSchema, {
    description: 'Oldest first; the running attempt, if any, last.',
  }),
});
export type AttemptList = Static<typeof AttemptListSchema>;
