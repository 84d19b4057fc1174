import { describe, expect, it } from 'vitest';
import { refusesWrites, toApiError } from '../src/plugins/error-handler.js';

const storeError = (code: string) => Object.assign(new Error(`store failed (${code})`), { code });

describe('store failures become 503 NOT_READY, not 500', () => {
  it.each([
    ['SQLITE_FULL', 'disk full'],
    ['SQLITE_BUSY', 'locked'],
    ['08006', 'PostgreSQL connection lost'],
    ['57P01', 'PostgreSQL admin shutdown'],
    ['57014', 'PostgreSQL statement timeout'],
    ['53300', 'PostgreSQL too many connections'],
    ['ECONNREFUSED', 'database refused the connection'],
  ])('%s (%s)', (code) => {
    const api = toApiError(storeError(code), 'req-1');
    expect(api.code).toBe('NOT_READY');
    expect(api.status).toBe(503);
    expect(api.message).toContain(code);
  });

  it('a statement timeout and full connection slots say what happened and which setting is behind it', () => {
    const timeout = toApiError(storeError('57014'), 'req-2');
    expect(timeout.status).toBe(503);
    expect(timeout.message).toMatch(/statement timeout.*--store-statement-timeout/);
    const full = toApiError(storeError('53300'), 'req-3');
    expect(full.status).toBe(503);
    expect(full.message).toMatch(/no free connection slots.*--store-pool-size.*max_connections/);
  });

  it('anything else is a 500 that names the request id and nothing internal', () => {
    const api = toApiError(storeError('42P01'), 'req-7');
    expect(api.code).toBe('INTERNAL');
    expect(api.message).toBe('internal error; quote request id req-7 to the operator');
  });
});

describe('which store failures count as refusing writes (readiness)', () => {
  it('a full, read-only or failing disk does; a lost connection does not (the ping sees it)', () => {
    for (const code of ['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR_WRITE', '53100'])
      expect(refusesWrites({ code }), code).toBe(true);
    for (const code of ['08006', 'ECONNREFUSED', '57014', 'SQLITE_BUSY'])
      expect(refusesWrites({ code }), code).toBe(false);
  });
});
