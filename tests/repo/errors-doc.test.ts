// docs/reference/errors.md is generated from the protocol's error registry (`npm run docs`);
// this test fails when the two drift apart, in either direction.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_ERRORS, JOB_ERRORS } from '@offload/protocol';
import { describe, expect, it } from 'vitest';

const docPath = join(import.meta.dirname, '..', '..', 'docs', 'reference', 'errors.md');
const doc = readFileSync(docPath, 'utf8');
const FIX = 'docs/reference/errors.md is out of date: run `npm run build && npm run docs`';

/** The rows of the first table under `## heading`: code → the other cells, trimmed. */
function tableUnder(heading: string): Map<string, string[]> {
  const start = doc.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`errors.md has no "## ${heading}" section`);
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, end < 0 ? undefined : end);
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const cells = line
      .trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map((c) => c.trim().replace(/\\\|/g, '|'));
    const code = /^`([A-Z][A-Z0-9_]*)`$/.exec(cells[0] ?? '')?.[1];
    if (code !== undefined) rows.set(code, cells.slice(1));
  }
  return rows;
}

describe('docs/reference/errors.md', () => {
  const apiRows = tableUnder('API errors');
  const jobRows = tableUnder('Job error codes');

  it('lists every API error code with its HTTP status and meaning', () => {
    for (const [code, { status, description }] of Object.entries(API_ERRORS)) {
      expect(apiRows.get(code), `${code} missing. ${FIX}`).toEqual([String(status), description]);
    }
  });

  it('lists no API error code the registry lacks', () => {
    expect([...apiRows.keys()].sort(), FIX).toEqual(Object.keys(API_ERRORS).sort());
  });

  it('lists every job error code with its meaning, and no other', () => {
    for (const [code, description] of Object.entries(JOB_ERRORS)) {
      expect(jobRows.get(code), `${code} missing. ${FIX}`).toEqual([description]);
    }
    expect([...jobRows.keys()].sort(), FIX).toEqual(Object.keys(JOB_ERRORS).sort());
  });
});
