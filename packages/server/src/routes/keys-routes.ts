import {
  ApiError,
  IdParams,
  KeyCreateSchema,
  KeyCreatedSchema,
  KeyListSchema,
  KeySchema,
  SCOPES,
  WhoamiSchema,
  type Whoami,
} from '@offload/protocol';
import { credentialRecord } from '@offload/store';
import { principalOf } from '../plugins/auth-hook.js';
import { hashSecret, newId, newSecret } from '../services/secrets.js';
import { keyView } from '../services/views.js';
import { errorResponses, type App, type Services } from './route-context.js';

const errors = errorResponses(400, 401, 403, 404);

export function keysRoutes(app: App, s: Services): void {
  app.get('/api/v1/whoami', {
    config: { auth: { client: true } },
    schema: {
      tags: ['keys'],
      summary: 'The calling credential: its kind, scopes and limits',
      description:
        'For a client to learn what its key may do before it tries (the dashboard shows only the actions its key allows). Never the secret.',
      response: { 200: WhoamiSchema, ...errorResponses(401, 403) },
    },
    handler: async (request): Promise<Whoami> => {
      const p = principalOf(request);
      if (p.kind === 'admin') return { kind: 'admin', id: p.credentialId, scopes: [...SCOPES] };
      // The `client` rule lets in the admin token and API keys only; this narrows the type.
      if (p.kind !== 'api-key')
        throw new ApiError('FORBIDDEN', 'whoami answers client credentials: use an API key');
      return {
        kind: 'api-key',
        id: p.credentialId,
        name: p.name,
        scopes: SCOPES.filter((scope) => p.scopes.has(scope)),
        ...(p.queues !== null && { queues: [...p.queues] }),
        ...(p.capabilities !== null && { capabilities: [...p.capabilities] }),
      };
    },
  });

  app.get('/api/v1/keys', {
    config: { auth: { scope: 'admin' } },
    schema: {
      tags: ['keys'],
      summary: 'API keys and join tokens (never their secrets)',
      response: { 200: KeyListSchema, ...errors },
    },
    handler: async () => ({ keys: (await s.store.credentialsList()).map(keyView) }),
  });

  app.post('/api/v1/keys', {
    config: { auth: { scope: 'admin' } },
    schema: {
      tags: ['keys'],
      summary: 'Create an API key or a join token',
      description:
        'The secret is in `token`, in this response only; the server keeps its SHA-256. API keys need `scopes`; join tokens take `ttlSec` and `singleUse`.',
      body: KeyCreateSchema,
      response: { 201: KeyCreatedSchema, ...errors },
    },
    handler: async (request, reply) => {
      const b = request.body;
      if (b.kind === 'api-key') {
        if (!b.scopes)
          throw new ApiError(
            'VALIDATION_FAILED',
            '/scopes: an API key needs scopes, some of submit, read, cancel, admin, shell',
            { details: [{ field: '/scopes', message: 'is required for an API key' }] },
          );
        if (b.singleUse !== undefined)
          throw new ApiError(
            'VALIDATION_FAILED',
            '/singleUse: only join tokens can be single-use',
            { details: [{ field: '/singleUse', message: 'is for join tokens' }] },
          );
      } else if (b.scopes || b.queues || b.capabilities) {
        const field = b.scopes ? '/scopes' : b.queues ? '/queues' : '/capabilities';
        throw new ApiError(
          'VALIDATION_FAILED',
          `${field}: join tokens carry no scopes or limits; they only let an agent register`,
          { details: [{ field, message: 'is for API keys' }] },
        );
      }
      const now = s.clock.now();
      const token = newSecret(b.kind);
      const credential = credentialRecord({
        id: newId(b.kind === 'api-key' ? 'key_' : 'jt_'),
        kind: b.kind,
        name: b.name,
        hash: hashSecret(token),
        scopes: b.scopes ?? [],
        queues: b.queues ?? null,
        capabilities: b.capabilities ?? null,
        singleUse: b.singleUse ?? false,
        expiresAt: b.ttlSec === undefined ? null : now + b.ttlSec * 1000,
        createdAt: now,
      });
      await s.store.credentialCreate({ credential });
      return reply.status(201).send({ ...keyView(credential), token });
    },
  });

  app.delete('/api/v1/keys/:id', {
    config: { auth: { scope: 'admin' } },
    schema: {
      tags: ['keys'],
      summary: 'Revoke an API key or join token',
      params: IdParams,
      response: { 200: KeySchema, ...errors },
    },
    handler: async (request) => {
      const existing = await s.store.credentialGet({ id: request.params.id });
      if (!existing || (existing.kind !== 'api-key' && existing.kind !== 'join-token')) {
        throw new ApiError('KEY_NOT_FOUND', `no API key or join token ${request.params.id}`);
      }
      const revoked = await s.store.credentialRevoke({ id: existing.id, now: s.clock.now() });
      s.auth.forget(existing.id);
      return keyView(revoked ?? existing);
    },
  });
}
