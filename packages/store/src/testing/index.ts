import { afterEach, beforeEach, describe } from 'vitest';
import type { Store } from '../store.js';
import { describeAgents } from './conformance-agents.js';
import { describeAttempts } from './conformance-attempts.js';
import { describeAttemptHistory } from './conformance-history.js';
import { describeCancelRetryPurge } from './conformance-cancel.js';
import { describeClaim } from './conformance-claim.js';
import { describeClaimResources } from './conformance-claim-resources.js';
import { describeCredentials } from './conformance-credentials.js';
import { describeHandoff } from './conformance-handoff.js';
import { describeJobsGet } from './conformance-jobs-get.js';
import { describeList } from './conformance-list.js';
import { describeLogs } from './conformance-logs.js';
import { describeQueues } from './conformance-queues.js';
import { describeSubmit } from './conformance-submit.js';
import { describeSweeps } from './conformance-sweeps.js';
import type { SuiteContext } from './suite-context.js';

export type { SuiteContext } from './suite-context.js';
export * from './fixtures.js';

export type StoreFactory = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

/**
 * The Store conformance suite: every backend runs it unchanged (River's
 * riverdrivertest.Exercise, Kysely's DIALECTS loop). `factory` returns a fresh, empty
 * store per test and a cleanup that closes and removes it. Time is a fake clock: every
 * call passes an explicit `now` derived from T0.
 */
export function runStoreConformance(name: string, factory: StoreFactory): void {
  describe(`Store conformance: ${name}`, () => {
    let current: { store: Store; cleanup(): Promise<void> } | undefined;
    beforeEach(async () => {
      current = await factory();
    });
    afterEach(async () => {
      const c = current;
      current = undefined;
      await c?.cleanup();
    });
    const s: SuiteContext = {
      get store(): Store {
        if (current === undefined) throw new Error('no store: use it inside a test');
        return current.store;
      },
    };
    describeSubmit(s);
    describeJobsGet(s);
    describeList(s);
    describeClaim(s);
    describeClaimResources(s);
    describeHandoff(s);
    describeAttempts(s);
    describeAttemptHistory(s);
    describeCancelRetryPurge(s);
    describeSweeps(s);
    describeAgents(s);
    describeLogs(s);
    describeQueues(s);
    describeCredentials(s);
  });
}
export * from './postgres-env.js';
