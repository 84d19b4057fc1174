import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '@offload/protocol';
import {
  authorize,
  type AuthRule,
  type AuthService,
  type Principal,
} from '../services/auth-service.js';
import type { RateLimiter } from '../services/rate-limiter.js';

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
export function installAuth(app: FastifyInstance, auth: AuthService, rate: RateLimiter): void {
  app.decorateRequest('principal', null);
  // Callback style, and the principal at once when its credential is cached: no promise per
  // request on the hot path.
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      const rule = request.routeOptions.config.auth;
      if (request.routeOptions.url === undefined) return done(); // 404: the not-found handler answers
      if (!rule) throw new ApiError('FORBIDDEN', 'this route declares no access rule');
      if ('public' in rule) return done();
      const principal = auth.authenticate(request.headers.authorization);
      if (!(principal instanceof Promise)) return done(admit(request, principal, rule));
      principal.then(
        (p) => done(admit(request, p, rule)),
        (err: Error) => done(err),
      );
    } catch (err) {
      done(err as Error);
    }
  });

  /** Authorizes and rate-limits the caller; the error to answer with, if any. */
  const admit = (
    request: FastifyRequest,
    principal: Principal,
    rule: AuthRule,
  ): Error | undefined => {
    try {
      authorize(principal, rule);
      request.principal = principal;
      // API keys are what scripts and users hold; the admin token and agents are not limited
      // (an agent at full speed makes hundreds of requests a second by design).
      if (principal.kind === 'api-key') {
        const waitSec = rate.take(principal.credentialId, performance.now());
        if (waitSec > 0) {
          const retryAfterSec = Math.ceil(waitSec);
          throw new ApiError(
            'RATE_LIMITED',
            `key "${principal.name}" is over its limit of requests per second (rateLimit); retry after ${retryAfterSec} s, or batch the requests`,
            { details: { retryAfterSec } },
          );
        }
      }
      return undefined;
    } catch (err) {
      return err as Error;
    }
  };
}

/** The authenticated caller; routes with a non-public rule always have one. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new ApiError('UNAUTHORIZED', 'no credential');
  return request.principal;
}
