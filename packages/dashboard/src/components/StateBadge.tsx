/** A job or agent state as a coloured pill; colour is never the only cue (the word is shown). */
export function StateBadge({ state }: { state: string }) {
  return <span className={`badge state-${state}`}>{state}</span>;
}
