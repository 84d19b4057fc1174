import { Type } from 'typebox';
import { ErrorBodySchema, Id, Ident, invalidField } from '@offload/protocol';
import { EVENT_TYPES, type EventType } from '../services/event-hub.js';
import { agentView, jobView } from '../services/views.js';
import { openSse } from './sse.js';
import type { App, Services } from './route-context.js';

const EventsQuery = Type.Object(
  {
    jobId: Type.Optional(Id),
    queue: Type.Optional(Ident('Only events of jobs in this queue.')),
    types: Type.Optional(
      Type.String({
        maxLength: 1_024,
        description: `Comma-separated: ${EVENT_TYPES.join(', ')}; a prefix like \`job.*\` selects a group.`,
      }),
    ),
  },
  { additionalProperties: false },
);

export function eventsRoutes(app: App, s: Services): void {
  app.get('/api/v1/events', {
    config: { auth: { scope: 'read' } },
    schema: {
      tags: ['events'],
      summary: 'Live events (Server-Sent Events)',
      description: `Each event's name is its type and its data the job or agent as JSON. Types: ${EVENT_TYPES.join(', ')}.`,
      querystring: EventsQuery,
      response: {
        200: Type.String(),
        400: ErrorBodySchema,
        401: ErrorBodySchema,
        403: ErrorBodySchema,
      },
    },
    handler: async (request, reply) => {
      const types = parseTypes(request.query.types);
      const unsubscribe = s.hub.subscribe(
        {
          ...(types && { types }),
          ...(request.query.jobId !== undefined && { jobId: request.query.jobId }),
          ...(request.query.queue !== undefined && { queue: request.query.queue }),
        },
        (event) => {
          if ('job' in event) stream.send(event.type, JSON.stringify(jobView(event.job)));
          else stream.send(event.type, JSON.stringify(agentView(event.agent, [])));
        },
      );
      const stream = openSse(request, reply, unsubscribe);
    },
  });
}

function parseTypes(text: string | undefined): Set<EventType> | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const out = new Set<EventType>();
  for (const raw of text.split(',')) {
    const t = raw.trim();
    const matches = t.endsWith('*')
      ? EVENT_TYPES.filter((e) => e.startsWith(t.slice(0, -1)))
      : EVENT_TYPES.filter((e) => e === t);
    if (matches.length === 0)
      throw invalidField(
        'query/types',
        `"${t}" is not an event type; use ${EVENT_TYPES.join(', ')}`,
      );
    for (const m of matches) out.add(m);
  }
  return out;
}
