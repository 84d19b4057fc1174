import { Type, type Static } from 'typebox';
import { JOB_STATES } from './job-schemas.js';

const CountsByState = Type.Object(
  Object.fromEntries(JOB_STATES.map((s) => [s, Type.Integer({ minimum: 0 })])) as Record<
    (typeof JOB_STATES)[number],
    ReturnType<typeof Type.Integer>
  >,
);

export const QueueSchema = Type.Object({
  name: Type.String(),
  paused: Type.Boolean(),
  counts: CountsByState,
});
export type Queue = Static<typeof QueueSchema>;
export const QueueListSchema = Type.Object({ queues: Type.Array(QueueSchema) });

export const StatsSchema = Type.Object({
  counts: CountsByState,
  agents: Type.Object({
    online: Type.Integer(),
    draining: Type.Integer(),
    offline: Type.Integer(),
  }),
  throughput: Type.Object({
    windowSec: Type.Integer(),
    submittedPerSec: Type.Number(),
    startedPerSec: Type.Number(),
    finishedPerSec: Type.Number(),
    perMinute: Type.Array(
      Type.Object({
        at: Type.String(),
        submitted: Type.Integer(),
        started: Type.Integer(),
        succeeded: Type.Integer(),
        failed: Type.Integer(),
      }),
      { description: 'The last hour, one bucket per minute, oldest first.' },
    ),
  }),
  queueWaitMs: Type.Object({ p50: Type.Number(), p95: Type.Number(), samples: Type.Integer() }),
});
export type Stats = Static<typeof StatsSchema>;
