/**
 * Whether an agent in this stored state may take jobs: online only. `null` is an agent the
 * store does not hold, which the caller vouches for (the conformance suite claims with
 * agents it never stored).
 */
export function mayClaim(storedState: string | null): boolean {
  return storedState === null || storedState === 'online';
}
