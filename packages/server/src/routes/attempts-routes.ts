import { AttemptListSchema, IdParams, type Attempt } from '@offload/protocol';
import type { AttemptRecord } from '@offload/store';
import { errorResponses, type App, type Services } from './route-context.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** An attempt as the API shows it: ISO times, absent (not null) optional fields, no lease id. */
export function attemptView(a: AttemptRecord): Attempt {
  const v: Attempt = {
    attempt: a.attempt,
    agent: { id: a.agentId, name: a.agentName },
    startedAt: iso(a.startedAt),
    outcome: a.outcome,
  };
  if (a.endedAt !== null) v.endedAt = iso(a.endedAt);
  if (a.exitCode !== null) v.exitCode = a.exitCode;
  if (a.signal !== null) v.signal = a.signal;
  if (a.error !== null) v.error = a.error;
  return v;
}

export function attemptsRoutes(app: App, s: Services): void {
  app.get('/api/v1/jobs/:id/attempts', {
    config: { auth: { scope: 'read' } },
    schema: {
      tags: ['jobs'],
      summary: "A job's attempts: which agent ran each, when, and how it ended",
      description:
        'Oldest first, one entry per claim of the job: its attempt number, agent, start and end, outcome (`succeeded`, `failed`, `timed-out`, `agent-lost`, `canceled`, `handed-back`, or `running` for the attempt running now, last), exit code or signal, and error. A hand-back (an agent draining) keeps the attempt number, so the next entry shares it. Kept as long as the job is.',
      params: IdParams,
      response: { 200: AttemptListSchema, ...errorResponses(400, 401, 403, 404) },
    },
    handler: async (request) => {
      const attempts = await s.store.attemptsList({ jobId: request.params.id });
      return { attempts: attempts.map(attemptView) };
    },
  });
}
