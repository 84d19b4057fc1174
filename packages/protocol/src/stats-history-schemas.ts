import { Type, type Static } from 'typebox';

/** One minute of `GET /api/v1/stats/history`: what started and finished, and how long it had waited. */
export const StatsMinuteSchema = Type.Object({
  at: Type.String({ format: 'date-time', description: 'Start of the minute.' }),
  started: Type.Integer({ minimum: 0 }),
  succeeded: Type.Integer({ minimum: 0 }),
  failed: Type.Integer({ minimum: 0 }),
  queueWaitP50Ms: Type.Number({
    minimum: 0,
    description: 'Median queued→started wait of the jobs started this minute (0 when none).',
  }),
  queueWaitP95Ms: Type.Number({ minimum: 0 }),
});
export type StatsMinute = Static<typeof StatsMinuteSchema>;

export const StatsHistorySchema = Type.Object({
  minutes: Type.Array(StatsMinuteSchema, {
    description: 'The last hour, one entry per minute, oldest first; empty minutes included.',
  }),
});
export type StatsHistory = Static<typeof StatsHistorySchema>;
