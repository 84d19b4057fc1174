import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, CliProcesses, cleanEnv } from '../../packages/cli/test/cli-process.js';

/**
 * The built CLI serves the built dashboard: `offload start` prints its URL and `offload
 * server` serves index.html, the hashed assets and the SPA fallback, with the API untouched.
 * (The server's handling of a missing build is in packages/server/test/dashboard-static.test.ts.)
 */
let dir: string;
let procs: CliProcesses;

beforeEach(() => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'offload-dashboard-serve-'));
  procs = new CliProcesses();
});

afterEach(async () => {
  await procs.killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('the CLI serves the dashboard', () => {
  it('offload start prints the dashboard URL, and / is the app', async () => {
    const env = cleanEnv({ OFFLOAD_HOME: path.join(dir, 'home'), XDG_CONFIG_HOME: dir });
    const p = procs.run(['start', '--port', '0', '--no-agent'], { env });
    const url = (await p.waitForStderr(/dashboard: (http:\/\/\S+)\//))[1]!;
    const index = await fetch(`${url}/`);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    expect(html).toContain('<div id="root">');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const js = await fetch(`${url}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    await js.arrayBuffer();
    const deep = await fetch(`${url}/jobs/job_123?state=failed`);
    expect(await deep.text()).toContain('<div id="root">');
    const api = await fetch(`${url}/api/v1/nothing`);
    expect(api.status).toBe(404);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('offload server serves it too', async () => {
    const p = procs.run(['server', '--port', '0', '--data-dir', path.join(dir, 'server')], {
      env: cleanEnv({ OFFLOAD_ADMIN_TOKEN: 'offa_serve_test_admin_token_0123456789' }),
    });
    const url = (await p.waitForStderr(/listening on (http:\/\/\S+)/))[1]!;
    const res = await fetch(`${url}/agents`);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toContain('<div id="root">');
  });
});
