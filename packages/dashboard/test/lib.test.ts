import { describe, expect, it } from 'vitest';
import type { Job } from '@offload/client/browser';
import { agentHref, withLiveAttempt } from '../src/lib/attempts.js';
import { commandLine, duration, megabytes, relativeTime } from '../src/lib/format.js';
import { alignToNow } from '../src/lib/history.js';
import {
  filterFromQuery,
  filterToQuery,
  matchesFilter,
  toListFilter,
} from '../src/lib/job-filter.js';
import { parseRoute } from '../src/lib/router.js';

/** The dashboard's pure helpers; the pages themselves are covered by tests/dashboard in a browser. */
describe('format', () => {
  const now = Date.parse('2026-11-24T12:00:00Z');
  it('says times relative to now', () => {
    expect(relativeTime('2026-11-24T11:59:58Z', now)).toBe('just now');
    expect(relativeTime('2026-11-24T11:57:00Z', now)).toMatch(/^3 ?m(in\.?)? ago$/);
    expect(relativeTime('2026-11-24T14:00:00Z', now)).toMatch(/^in 2 ?h(r\.?)?$/);
    expect(relativeTime('not a time', now)).toBe('—');
  });
  it('formats durations, sizes and commands', () => {
    expect(duration(950)).toBe('950 ms');
    expect(duration(12_400)).toBe('12 s');
    expect(duration(185_000)).toBe('3 m 05 s');
    expect(duration(7_800_000)).toBe('2 h 10 m');
    expect(megabytes(512)).toBe('512 MB');
    expect(megabytes(16_384)).toBe('16 GB');
    expect(commandLine(['ffmpeg', '-i', 'in put.mp4'])).toBe("ffmpeg -i 'in put.mp4'");
    expect(commandLine('tar cz . | wc -c')).toBe('tar cz . | wc -c');
  });
});

describe('job filter', () => {
  const job = (over: Partial<Job>): Job =>
    ({
      name: 'render shot 42',
      queue: 'render',
      state: 'running',
      tags: { shot: '42' },
      ...over,
    }) as Job;

  it('round-trips through the URL and drops unknown states and blanks', () => {
    const f = filterFromQuery(new URLSearchParams('state=failed&queue=ingest&q=%20&state2=x'));
    expect(f).toEqual({ state: 'failed', queue: 'ingest' });
    expect(filterToQuery(f)).toBe('?state=failed&queue=ingest');
    expect(filterFromQuery(new URLSearchParams('state=bogus'))).toEqual({});
    expect(toListFilter({ q: 'shot', agent: undefined }, 50)).toEqual({ limit: 50, q: 'shot' });
  });

  it('matches live jobs the way the server filters them', () => {
    expect(matchesFilter(job({}), {})).toBe(true);
    expect(matchesFilter(job({}), { q: 'SHOT' })).toBe(true);
    expect(matchesFilter(job({}), { state: 'queued' })).toBe(false);
    expect(matchesFilter(job({}), { tag: 'shot:42' })).toBe(true);
    expect(matchesFilter(job({}), { tag: 'shot:43' })).toBe(false);
    expect(matchesFilter(job({ agent: { id: 'a', name: 'gpu-1' } }), { agent: 'gpu-1' })).toBe(
      true,
    );
    expect(matchesFilter(job({}), { agent: 'gpu-1' })).toBe(false);
  });
});

describe('history', () => {
  it('fills the minutes after the last bucket up to now with zeros', () => {
    const now = Date.parse('2026-11-24T12:05:30Z');
    const minutes = alignToNow(
      [
        {
          at: '2026-11-24T12:02:00.000Z',
          started: 4,
          succeeded: 3,
          failed: 1,
          queueWaitP50Ms: 20,
          queueWaitP95Ms: 90,
        },
      ],
      now,
    );
    expect(minutes).toHaveLength(60);
    expect(minutes.at(-1)).toMatchObject({ at: '2026-11-24T12:05:00.000Z', started: 0 });
    expect(minutes.at(-4)).toMatchObject({ started: 4, queueWaitP95Ms: 90 });
  });
});

describe('router', () => {
  it('maps paths to pages', () => {
    expect(parseRoute('/', '')).toEqual({ page: 'overview' });
    expect(parseRoute('/jobs/job_1', '')).toEqual({ page: 'job', id: 'job_1' });
    expect(parseRoute('/agents', '').page).toBe('agents');
    expect(parseRoute('/jobs', '?state=failed')).toMatchObject({ page: 'jobs' });
    expect(parseRoute('/nope/deeper', '').page).toBe('not-found');
  });
});

describe('attempts', () => {
  const job = {
    state: 'running',
    attempt: 2,
    startedAt: '2026-11-24T12:00:05.000Z',
    agent: { id: 'agt_b', name: 'b' },
  } as Job;
  const failed = {
    attempt: 1,
    agent: { id: 'agt_a', name: 'a' },
    startedAt: '2026-11-24T12:00:00.000Z',
    endedAt: '2026-11-24T12:00:01.000Z',
    outcome: 'failed',
  } as const;

  it('adds the running attempt an event announced before the list knew it', () => {
    expect(withLiveAttempt([failed], job)).toEqual([
      failed,
      { attempt: 2, agent: job.agent, startedAt: job.startedAt, outcome: 'running' },
    ]);
  });

  it('keeps the list when it already has that attempt, running or ended', () => {
    const running = {
      ...failed,
      attempt: 2,
      startedAt: job.startedAt!,
      outcome: 'running',
    } as const;
    expect(withLiveAttempt([failed, running], job)).toEqual([failed, running]);
    const ended = { ...running, outcome: 'canceled', endedAt: '2026-11-24T12:00:09.000Z' } as const;
    expect(withLiveAttempt([failed, ended], job)).toEqual([failed, ended]);
  });

  it('adds nothing for a job that is not running', () => {
    expect(withLiveAttempt([failed], { ...job, state: 'scheduled' })).toEqual([failed]);
  });

  it("links to the agent's card", () => {
    expect(agentHref('agt_1')).toBe('/agents#agent-agt_1');
  });
});
