import { describe, expect, it } from 'vitest';
import type { CredentialRecord } from '../store.js';
import { nextId, T0 } from './fixtures.js';
import type { SuiteContext } from './suite-context.js';

function credential(over: Partial<CredentialRecord> = {}): CredentialRecord {
  const id = over.id ?? nextId('cred');
  return {
    id,
    kind: 'api-key',
    name: `key ${id}`,
    hash: `hash-${id}`,
    scopes: ['read', 'submit'],
    queues: null,
    capabilities: null,
    agentId: null,
    singleUse: false,
    usedAt: null,
    expiresAt: null,
    revokedAt: null,
    lastUsedAt: null,
    createdAt: T0,
    ...over,
  };
}

export function describeCredentials(s: SuiteContext): void {
  describe('credentials', () => {
    it('creates and finds by hash and by id', async () => {
      const c = credential({
        queues: ['a', 'b'],
        capabilities: ['gpu', 'llm:*'],
        expiresAt: T0 + 1_000,
      });
      await s.store.credentialCreate({ credential: c });
      expect(await s.store.credentialFindByHash({ hash: c.hash })).toEqual(c);
      expect(await s.store.credentialGet({ id: c.id })).toEqual(c);
      expect(await s.store.credentialFindByHash({ hash: 'nope' })).toBeNull();
      expect(await s.store.credentialGet({ id: 'nope' })).toBeNull();
    });

    it('refuses a second credential with the same hash', async () => {
      await s.store.credentialCreate({ credential: credential({ hash: 'same' }) });
      await expect(
        s.store.credentialCreate({ credential: credential({ hash: 'same' }) }),
      ).rejects.toThrow();
    });

    it('lists api keys and join tokens only, newest first', async () => {
      const admin = credential({ kind: 'admin', createdAt: T0 });
      const agent = credential({ kind: 'agent', agentId: 'agent-1', createdAt: T0 + 1 });
      const key = credential({ createdAt: T0 + 2 });
      const join = credential({
        kind: 'join-token',
        singleUse: true,
        scopes: [],
        createdAt: T0 + 3,
      });
      for (const c of [admin, agent, key, join]) await s.store.credentialCreate({ credential: c });
      expect(await s.store.credentialsList()).toEqual([join, key]);
      expect(await s.store.credentialGet({ id: agent.id })).toEqual(agent);
    });

    it('revokes, keeping the first revocation time', async () => {
      const c = credential();
      await s.store.credentialCreate({ credential: c });
      expect(await s.store.credentialRevoke({ id: c.id, now: T0 + 5 })).toEqual({
        ...c,
        revokedAt: T0 + 5,
      });
      expect((await s.store.credentialRevoke({ id: c.id, now: T0 + 9 }))?.revokedAt).toBe(T0 + 5);
      expect((await s.store.credentialFindByHash({ hash: c.hash }))?.revokedAt).toBe(T0 + 5);
      expect(await s.store.credentialRevoke({ id: 'nope', now: T0 })).toBeNull();
    });

    it('consumes a single-use token once, even when two try at the same time', async () => {
      const c = credential({ kind: 'join-token', singleUse: true });
      await s.store.credentialCreate({ credential: c });
      const results = await Promise.all([
        s.store.credentialConsume({ id: c.id, now: T0 + 1 }),
        s.store.credentialConsume({ id: c.id, now: T0 + 2 }),
      ]);
      expect(results.sort()).toEqual([false, true]);
      expect(await s.store.credentialConsume({ id: c.id, now: T0 + 3 })).toBe(false);
      expect([T0 + 1, T0 + 2]).toContain((await s.store.credentialGet({ id: c.id }))?.usedAt);
      expect(await s.store.credentialConsume({ id: 'nope', now: T0 })).toBe(false);
    });

    it('touches lastUsedAt', async () => {
      const c = credential();
      await s.store.credentialCreate({ credential: c });
      await s.store.credentialTouch({ id: c.id, now: T0 + 42 });
      expect((await s.store.credentialGet({ id: c.id }))?.lastUsedAt).toBe(T0 + 42);
      await s.store.credentialTouch({ id: 'nope', now: T0 });
    });
  });
}
