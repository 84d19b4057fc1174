import type { Store } from '../store.js';

/** What each part of the suite sees: the current test's fresh store. */
export interface SuiteContext {
  readonly store: Store;
}
