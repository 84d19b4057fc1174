import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '@offload/protocol';
import {
  authorize,
  type AuthRule,
  type AuthService,
  type Principal,
} from '../services/auth-service.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. Every route declares one; a route without is refused (fail closed). */
    auth?: AuthRule;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/**
 * Authenticates and authorizes before the body is read, so an unauthenticated request is
 * answered 401 without parsing or validating anything.
 */
export function installAuth(app: FastifyInstance, auth: AuthService): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    const rule = request.routeOptions.config.auth;
    if (request.routeOptions.url === undefined) return; // 404: the not-found handler answers
    if (!rule) throw new ApiError('FORBIDDEN', 'this route declares no access rule');
    if ('public' in rule) return;
    const principal = await auth.authenticate(request.headers.authorization);
    authorize(principal, rule);
    request.principal = principal;
  });
}

/** The authenticated caller; routes with a non-public rule always have one. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new ApiError('UNAUTHORIZED', 'no credential');
  return request.principal;
}
