import { Type } from 'typebox';
import { isTerminal } from '@offload/core';
import {
  ErrorBodySchema,
  IdParams,
  JobBatchSubmitSchema,
  JobListQuerySchema,
  JobListSchema,
  JobSchema,
  JobSubmitSchema,
  WaitQuerySchema,
  WaitTimeoutQuerySchema,
} from '@offload/protocol';
import { principalOf } from '../plugins/auth-hook.js';
import { jobView } from '../services/views.js';
import { errorResponses, waitForJob, type App, type Services } from './route-context.js';

const errors = errorResponses(400, 401, 403, 404, 409);
const DEFAULT_WAIT_SEC = 30;

export function jobsRoutes(app: App, s: Services): void {
  app.post('/api/v1/jobs', {
    config: { auth: { scope: 'submit' } },
    schema: {
      tags: ['jobs'],
      summary: 'Submit a job',
      description:
        'Returns 201 with the new job, or 200 with the existing job for a repeated idempotencyKey. With `?wait=SEC` the request is held until the job is terminal (200) or SEC pass (202, job still live). Command jobs need the `shell` scope.',
      querystring: WaitQuerySchema,
      body: JobSubmitSchema,
      response: { 200: JobSchema, 201: JobSchema, 202: JobSchema, ...errors, 413: ErrorBodySchema },
    },
    handler: async (request, reply) => {
      const [result] = await s.jobs.submit([request.body], principalOf(request), false);
      let job = result!.job;
      if (request.query.wait !== undefined) {
        job = await waitForJob(s, request, job, request.query.wait * 1000);
        return reply.status(isTerminal(job.state) ? 200 : 202).send(jobView(job));
      }
      return reply.status(result!.created ? 201 : 200).send(jobView(job));
    },
  });

  app.post('/api/v1/jobs/batch', {
    config: { auth: { scope: 'submit' } },
    bodyLimit: s.config.batchBodyLimitBytes,
    schema: {
      tags: ['jobs'],
      summary: 'Submit up to 10,000 jobs at once',
      description:
        'All valid or none stored; the response lists the jobs in the order given (existing ones for repeated idempotency keys).',
      body: JobBatchSubmitSchema,
      response: {
        201: Type.Object({ jobs: Type.Array(JobSchema) }),
        ...errors,
        413: ErrorBodySchema,
      },
    },
    handler: async (request, reply) => {
      const results = await s.jobs.submit(request.body.jobs, principalOf(request), true);
      return reply.status(201).send({ jobs: results.map((r) => jobView(r.job)) });
    },
  });

  app.get('/api/v1/jobs', {
    config: { auth: { scope: 'read' } },
    schema: {
      tags: ['jobs'],
      summary: 'List jobs, newest first',
      querystring: JobListQuerySchema,
      response: { 200: JobListSchema, ...errors },
    },
    handler: async (request) => {
      const q = request.query;
      const tag =
        q.tag === undefined
          ? undefined
          : { key: q.tag.slice(0, q.tag.indexOf(':')), value: q.tag.slice(q.tag.indexOf(':') + 1) };
      const page = await s.jobs.list({
        limit: q.limit ?? 100,
        ...(q.state !== undefined && { state: q.state }),
        ...(q.queue !== undefined && { queue: q.queue }),
        ...(q.agent !== undefined && { agentName: q.agent }),
        ...(tag !== undefined && { tag }),
        ...(q.q !== undefined && { q: q.q }),
        ...(q.cursor !== undefined && { cursor: q.cursor }),
      });
      return { jobs: page.jobs.map(jobView), nextCursor: page.nextCursor };
    },
  });

  app.get('/api/v1/jobs/:id', {
    config: { auth: { scope: 'read' } },
    schema: {
      tags: ['jobs'],
      summary: 'One job',
      params: IdParams,
      response: { 200: JobSchema, ...errors },
    },
    handler: async (request) => jobView(await s.jobs.get(request.params.id)),
  });

  app.get('/api/v1/jobs/:id/wait', {
    config: { auth: { scope: 'read' } },
    schema: {
      tags: ['jobs'],
      summary: 'Wait for a job to finish',
      description: `Long poll: 200 with the job once it is terminal, 202 with it if \`timeoutSec\` (default ${DEFAULT_WAIT_SEC}) passes first.`,
      params: IdParams,
      querystring: WaitTimeoutQuerySchema,
      response: { 200: JobSchema, 202: JobSchema, ...errors },
    },
    handler: async (request, reply) => {
      const job = await waitForJob(
        s,
        request,
        await s.jobs.get(request.params.id),
        (request.query.timeoutSec ?? DEFAULT_WAIT_SEC) * 1000,
      );
      return reply.status(isTerminal(job.state) ? 200 : 202).send(jobView(job));
    },
  });

  app.post('/api/v1/jobs/:id/cancel', {
    config: { auth: { scope: 'cancel' } },
    schema: {
      tags: ['jobs'],
      summary: 'Cancel a job',
      description:
        'Scheduled or queued: canceled at once (200). Running: 202 while the agent kills the process tree, then canceled. Finished: 409.',
      params: IdParams,
      response: { 200: JobSchema, 202: JobSchema, ...errors },
    },
    handler: async (request, reply) => {
      const { job, immediate } = await s.jobs.cancel(request.params.id, principalOf(request));
      return reply.status(immediate ? 200 : 202).send(jobView(job));
    },
  });

  app.post('/api/v1/jobs/:id/retry', {
    config: { auth: { scope: 'submit' } },
    schema: {
      tags: ['jobs'],
      summary: 'Retry a finished job as a new attempt',
      params: IdParams,
      response: { 200: JobSchema, ...errors },
    },
    handler: async (request) =>
      jobView(await s.jobs.retry(request.params.id, principalOf(request))),
  });
}
