import { Type } from 'typebox';
import { isTerminal } from '@offload/core';
import { ErrorBodySchema, IdParams, LogsQuerySchema } from '@offload/protocol';
import type { LogChunk } from '@offload/store';
import { jobView } from '../services/views.js';
import { openSse } from './sse.js';
import type { App, Services } from './route-context.js';

export function logsRoutes(app: App, s: Services): void {
  app.get('/api/v1/jobs/:id/logs', {
    config: { auth: { scope: 'read' } },
    schema: {
      tags: ['jobs'],
      summary: "A job's output",
      description:
        'stdout and stderr interleaved in order, as text. With `?follow=1`: Server-Sent Events `stdout` and `stderr` (data: the chunk as a JSON string), then `end` with the job once it is terminal. The server keeps the last 10 MiB per job (configurable); the header `x-offload-log-truncated: 1` says older output was dropped.',
      params: IdParams,
      querystring: LogsQuerySchema,
      response: {
        200: Type.String(),
        401: ErrorBodySchema,
        403: ErrorBodySchema,
        404: ErrorBodySchema,
      },
    },
    handler: async (request, reply) => {
      const job = await s.jobs.get(request.params.id);
      const follow = request.query.follow === '1' || request.query.follow === 'true';
      if (!follow) {
        const text: string[] = [];
        let after: number | undefined;
        let truncated = false;
        for (;;) {
          const page = await s.jobs.logs(job.id, after);
          truncated ||= page.truncated;
          for (const c of page.chunks) text.push(c.data);
          const last = page.chunks[page.chunks.length - 1];
          if (!last) break;
          after = last.seq;
        }
        return reply
          .type('text/plain; charset=utf-8')
          .header('x-offload-log-truncated', truncated ? '1' : '0')
          .send(text.join(''));
      }

      // Subscribe first, then read what is stored, then flush what arrived meanwhile: no gap, no duplicate.
      let lastSeq = -1;
      let backlog: LogChunk[] | null = [];
      const emit = (chunks: readonly LogChunk[]) => {
        for (const c of chunks) {
          if (c.seq <= lastSeq) continue;
          lastSeq = c.seq;
          stream.send(c.stream, JSON.stringify(c.data));
        }
      };
      const unfollow = s.hub.followLogs(job.id, (chunks) =>
        backlog ? backlog.push(...chunks) : emit(chunks),
      );
      const unsubscribe = s.hub.subscribe({ jobId: job.id }, (event) => {
        if ('job' in event && isTerminal(event.job.state)) void finish();
      });
      const stream = openSse(request, reply, () => {
        unfollow();
        unsubscribe();
      });
      let ending = false;
      const finish = async () => {
        if (ending) return;
        ending = true;
        // Output reported with the final outcome may still be on its way in the same batch.
        await drainStored();
        const final = await s.jobs.get(job.id).catch(() => null);
        stream.send('end', JSON.stringify(final ? jobView(final) : null));
        stream.close();
      };
      const drainStored = async () => {
        for (;;) {
          const page = await s.jobs.logs(job.id, lastSeq < 0 ? undefined : lastSeq);
          if (page.chunks.length === 0) break;
          emit(page.chunks);
        }
      };
      await drainStored();
      const pending = backlog;
      backlog = null;
      emit(pending);
      const current = await s.jobs.get(job.id);
      if (isTerminal(current.state)) await finish();
    },
  });
}
