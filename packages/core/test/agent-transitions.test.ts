import {
  AGENT_TRANSITIONS,
  agentLost,
  agentSeen,
  drainAgent,
  resumeAgent,
  revokeAgent,
  type AgentRecord,
} from '@offload/core';
import { AGENT_STATES, type AgentState } from '@offload/protocol';
import { describe, expect, it } from 'vitest';
import { agent, expectApiError } from './fixtures.js';

type Fn = (a: AgentRecord) => AgentState;
const FUNCTIONS: Record<string, Fn> = {
  drainAgent,
  resumeAgent,
  'agentSeen()': (a) => agentSeen(a),
  'agentSeen(wantsDrain)': (a) => agentSeen(a, true),
  agentLost,
  revokeAgent,
};

/** Expected result of each function from each state; null = refused with INVALID_STATE. */
const EXPECTED: Record<string, Record<AgentState, AgentState | null>> = {
  drainAgent: { online: 'draining', draining: 'draining', offline: 'draining', revoked: null },
  resumeAgent: { online: 'online', draining: 'online', offline: 'offline', revoked: null },
  'agentSeen()': { online: 'online', draining: 'draining', offline: 'online', revoked: null },
  'agentSeen(wantsDrain)': {
    online: 'draining',
    draining: 'draining',
    offline: 'draining',
    revoked: null,
  },
  agentLost: { online: 'offline', draining: 'offline', offline: null, revoked: null },
  revokeAgent: { online: 'revoked', draining: 'revoked', offline: 'revoked', revoked: null },
};

const CASES = Object.keys(FUNCTIONS).flatMap((fn) =>
  AGENT_STATES.map((from) => ({ fn, from, to: EXPECTED[fn]?.[from] ?? null })),
);

describe('agent transitions', () => {
  it.each(CASES)('$fn from $from → $to', ({ fn, from, to }) => {
    const a = agent({ state: from });
    const run = FUNCTIONS[fn]!;
    if (to === null) {
      const err = expectApiError(() => run(a), 'INVALID_STATE');
      expect(err.details).toEqual({ agentId: a.id, state: from });
      return;
    }
    const next = run(a);
    expect(next).toBe(to);
    // A change of state is always one the table lists; staying put is idempotence.
    if (next !== from) expect(AGENT_TRANSITIONS[from]).toContain(next);
  });

  it('AGENT_TRANSITIONS is exactly the set of changes the functions make', () => {
    const produced = new Set(
      CASES.filter((c) => c.to !== null && c.to !== c.from).map((c) => `${c.from}->${c.to}`),
    );
    const table = new Set(
      AGENT_STATES.flatMap((from) => AGENT_TRANSITIONS[from].map((to) => `${from}->${to}`)),
    );
    expect([...produced].sort()).toEqual([...table].sort());
  });

  it('revoked is final: no way out and every function refuses', () => {
    expect(AGENT_TRANSITIONS.revoked).toEqual([]);
    const a = agent({ state: 'revoked' });
    for (const run of Object.values(FUNCTIONS)) expectApiError(() => run(a), 'INVALID_STATE');
  });
});
