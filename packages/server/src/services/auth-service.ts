import { ApiError, type Scope } from '@offload/protocol';
import type { Clock } from '@offload/core';
import type { CredentialRecord, Store } from '@offload/store';
import { hashSecret } from './secrets.js';

/** Who is calling. Derived from the bearer token on every request. */
export type Principal =
  | { kind: 'admin'; credentialId: string }
  | {
      kind: 'api-key';
      credentialId: string;
      name: string;
      scopes: ReadonlySet<Scope>;
      queues: readonly string[] | null;
      capabilities: readonly string[] | null;
    }
  | { kind: 'join-token'; credentialId: string; credential: CredentialRecord }
  | { kind: 'agent'; credentialId: string; agentId: string };

/**
 * What a route lets in. `scope`: a client route; `client`: any client credential (admin token
 * or API key, whatever its scopes); `agent`: the agent protocol; `join`: registration.
 */
export type AuthRule =
  { scope: Scope } | { client: true } | { agent: true } | { join: true } | { public: true };

const CACHE_TTL_MS = 5_000;
const TOUCH_EVERY_MS = 60_000;

/**
 * Resolves bearer tokens to principals. Verified credentials are cached for a few seconds
 * (a SHA-256 and a map lookup per request instead of a store read); revocation through
 * this service drops the cache entry at once, and the TTL bounds staleness for changes
 * made by another server. `lastUsedAt` is written at most once a minute per credential.
 */
export class AuthService {
  private readonly cache = new Map<string, { credential: CredentialRecord; until: number }>();
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /**
   * The caller of a request. A credential verified in the last few seconds is answered
   * without a promise or a store read (every request pays this: a lone job two of them).
   */
  authenticate(header: string | undefined): Principal | Promise<Principal> {
    if (header === undefined || header === '') {
      throw new ApiError('UNAUTHORIZED', 'no credential: send `Authorization: Bearer <token>`');
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new ApiError('UNAUTHORIZED', 'the Authorization header must be `Bearer <token>`');
    const hash = hashSecret(m[1]!);
    const now = this.clock.now();
    const credential = this.cached(hash, now);
    if (credential) return this.admit(credential, now);
    return this.store.credentialFindByHash({ hash }).then((found) => {
      if (!found)
        throw new ApiError(
          'UNAUTHORIZED',
          'unknown credential: check the token, or create a key with `offload keys create`',
        );
      this.cache.set(hash, { credential: found, until: now + CACHE_TTL_MS });
      return this.admit(found, now);
    });
  }

  /** A known credential, refused if revoked, expired or used up. */
  private admit(credential: CredentialRecord, now: number): Principal {
    if (credential.revokedAt !== null)
      throw new ApiError('UNAUTHORIZED', `credential "${credential.name}" was revoked`);
    if (credential.expiresAt !== null && credential.expiresAt <= now) {
      throw new ApiError(
        'UNAUTHORIZED',
        `credential "${credential.name}" expired at ${new Date(credential.expiresAt).toISOString()}`,
      );
    }
    if (credential.kind === 'join-token' && credential.singleUse && credential.usedAt !== null) {
      throw new ApiError(
        'UNAUTHORIZED',
        `single-use join token "${credential.name}" was already used`,
      );
    }
    this.touch(credential, now);
    return toPrincipal(credential);
  }

  /** Forget a credential everywhere in this process (after revoke or consume). */
  forget(credentialId: string): void {
    for (const [hash, entry] of this.cache)
      if (entry.credential.id === credentialId) this.cache.delete(hash);
  }

  private cached(hash: string, now: number): CredentialRecord | undefined {
    const hit = this.cache.get(hash);
    if (!hit) return undefined;
    if (hit.until <= now) {
      this.cache.delete(hash);
      return undefined;
    }
    return hit.credential;
  }

  private touch(credential: CredentialRecord, now: number): void {
    const last = this.touched.get(credential.id) ?? 0;
    if (now - last < TOUCH_EVERY_MS) return;
    this.touched.set(credential.id, now);
    // Best effort: a failed touch must not fail the request.
    this.store.credentialTouch({ id: credential.id, now }).catch(() => undefined);
  }
}

function toPrincipal(c: CredentialRecord): Principal {
  switch (c.kind) {
    case 'admin':
      return { kind: 'admin', credentialId: c.id };
    case 'api-key':
      return {
        kind: 'api-key',
        credentialId: c.id,
        name: c.name,
        scopes: new Set(c.scopes),
        queues: c.queues,
        capabilities: c.capabilities,
      };
    case 'join-token':
      return { kind: 'join-token', credentialId: c.id, credential: c };
    case 'agent':
      if (c.agentId === null)
        throw new ApiError('UNAUTHORIZED', `agent credential "${c.name}" has no agent`);
      return { kind: 'agent', credentialId: c.id, agentId: c.agentId };
  }
}

/** Checks a principal against a route's rule: 403 for the wrong kind or a missing scope. */
export function authorize(principal: Principal, rule: AuthRule): void {
  if ('public' in rule) return;
  if ('agent' in rule) {
    if (principal.kind !== 'agent')
      throw new ApiError(
        'FORBIDDEN',
        'this route is for agents; use the agent credential from registration',
      );
    return;
  }
  if ('join' in rule) {
    if (principal.kind !== 'join-token' && principal.kind !== 'agent') {
      throw new ApiError(
        'FORBIDDEN',
        "registering an agent needs a join token (`offload tokens create`) or the agent's own credential",
      );
    }
    return;
  }
  if (principal.kind === 'admin') return;
  if (principal.kind !== 'api-key') {
    throw new ApiError(
      'FORBIDDEN',
      `a${principal.kind === 'agent' ? 'n agent credential' : ' join token'} cannot use the client API; use an API key`,
    );
  }
  if ('client' in rule) return;
  if (!principal.scopes.has(rule.scope)) {
    throw new ApiError('FORBIDDEN', `key "${principal.name}" lacks the "${rule.scope}" scope`, {
      details: { required: rule.scope },
    });
  }
}

/** Queue and capability limits of an API key, for submit, cancel and retry. */
export function authorizeJobAccess(
  principal: Principal,
  job: { queue: string; kind: 'command' | 'task'; capabilities: readonly string[] },
  action: 'submit' | 'cancel' | 'retry',
): void {
  if (principal.kind !== 'api-key') return;
  // Retrying a command runs it again, so it needs `shell` as much as submitting it.
  if (action !== 'cancel' && job.kind === 'command' && !principal.scopes.has('shell')) {
    throw new ApiError(
      'FORBIDDEN',
      `key "${principal.name}" lacks the "shell" scope that command jobs need`,
      { details: { required: 'shell' } },
    );
  }
  if (principal.queues !== null && !principal.queues.includes(job.queue)) {
    throw new ApiError('FORBIDDEN', `key "${principal.name}" may not use queue "${job.queue}"`, {
      details: { queue: job.queue },
    });
  }
  if (action === 'submit' && principal.capabilities !== null) {
    const allowed = principal.capabilities;
    for (const cap of job.capabilities) {
      if (!allowed.some((p) => (p.endsWith('*') ? cap.startsWith(p.slice(0, -1)) : cap === p))) {
        throw new ApiError(
          'FORBIDDEN',
          `key "${principal.name}" may not require capability "${cap}"`,
          { details: { capability: cap } },
        );
      }
    }
  }
}

/** The access rule in words, for the API reference. */
export function describeRule(rule: AuthRule): string {
  if ('public' in rule) return 'no credential';
  if ('agent' in rule) return 'agent credential';
  if ('join' in rule) return 'join token or agent credential';
  if ('client' in rule) return 'any API key, or the admin token';
  return `API key with scope \`${rule.scope}\`${rule.scope === 'submit' ? ' (command jobs also need `shell`)' : ''}, or the admin token`;
}
