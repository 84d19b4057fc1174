import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { Job } from '@offload/protocol';
import { go, HAS_CHROMIUM, launch, newPage, screenshotDir, signIn } from './browser.js';
import { ADMIN, processesWith, seedJobs, startFleet, untilState, type Fleet } from './fleet.js';

/**
 * The dashboard in a real Chromium against a real server and three in-process agents:
 * sign-in (good, rejected, read-only), the jobs table following the event stream, cancelling
 * a running process from its page, draining an agent; a 1280 px screenshot of every page.
 */
const IN_CI = process.env.CI === 'true';
if (!HAS_CHROMIUM && !IN_CI)
  console.warn(
    'dashboard browser tests skipped: /usr/bin/chromium is missing (apt-get install chromium)',
  );

describe.skipIf(!HAS_CHROMIUM && !IN_CI)('dashboard in a browser', () => {
  let fleet: Fleet;
  let browser: Browser;
  let admin: Page;
  let running: Job;
  let shots: string;
  /** The sockets of requests made by Chromium, to cut them in the reconnect test. */
  const browserSockets = new Set<Socket>();
  const track = (req: IncomingMessage) => {
    if (req.headers['user-agent']?.includes('Chrome')) browserSockets.add(req.socket);
  };
  const shot = (page: Page, name: string) =>
    page.screenshot({ path: path.join(shots, `dashboard-${name}.png`), fullPage: true });

  beforeAll(async () => {
    if (!HAS_CHROMIUM)
      throw new Error('CI=true and /usr/bin/chromium is missing: install the chromium package');
    [fleet, browser] = await Promise.all([startFleet(), launch()]);
    shots = screenshotDir(fleet.dir);
    fleet.server.app.server.on('request', track);
    ({ running } = await seedJobs(fleet));
  }, 45_000);

  afterAll(async () => {
    await browser?.close();
    await fleet?.close();
    if (fleet) expect(processesWith(fleet.marker), 'job processes left behind').toEqual([]);
  }, 20_000);

  it('refuses a rejected key and says so', async () => {
    const page = await newPage(browser);
    await page.goto(fleet.url);
    // By keyboard: the field has focus on load, Enter submits.
    await page.keyboard.type('offk_not_a_key_this_server_ever_issued');
    await page.keyboard.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/rejected/);
    await shot(page, 'login');
    await page.context().close();
  });

  it('refuses a key without the read scope, naming it', async () => {
    const { token } = await fleet.off.keys.create({
      kind: 'api-key',
      name: 'submit-only',
      scopes: ['submit'],
    });
    const page = await newPage(browser);
    await page.goto(fleet.url);
    await page.getByLabel('API key or admin token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/lacks the `?read`? scope/);
    await page.context().close();
  });

  it('signs in and shows the overview', async () => {
    admin = await signIn(browser, fleet.url, ADMIN);
    await admin.getByRole('list', { name: 'Jobs by state' }).waitFor();
    await admin.getByText('Live', { exact: true }).waitFor();
    await admin
      .getByRole('link', { name: /render/ })
      .first()
      .waitFor();
    await shot(admin, 'overview');
  });

  it('updates the jobs table live when a job is submitted through the API', async () => {
    await go(admin, 'Jobs');
    await admin.locator('table.jobs-table').waitFor();
    const name = `live-${Date.now()}`;
    await fleet.submit({ name, command: 'echo live', queue: 'media' });
    const row = admin.locator('tr', { has: admin.getByRole('link', { name }) });
    await row.waitFor({ timeout: 5_000 });
    await expect.poll(() => row.getAttribute('data-state')).toBe('succeeded');
    await shot(admin, 'jobs');
  });

  it('cancels a running sleep from its job page, and its process is gone', async () => {
    expect(processesWith(fleet.marker).length).toBeGreaterThan(0);
    await admin.getByRole('link', { name: running.name }).click();
    await admin.getByRole('heading', { name: new RegExp(running.name) }).waitFor();
    await expect.poll(() => admin.locator('pre.log').textContent()).toContain('frame 84/240');
    // The timeline lists both attempts from the API, each with its agent.
    const attempts = admin.locator('li.tl-attempt');
    await expect.poll(() => attempts.count()).toBe(2);
    const described = async () =>
      Promise.all(
        (await attempts.all()).map(async (li) => [
          await li.getAttribute('data-attempt'),
          await li.getAttribute('data-agent'),
          await li.getAttribute('data-outcome'),
        ]),
      );
    expect(await described()).toEqual([
      ['1', 'mac-mini-02', 'failed'],
      ['2', 'gpu-render-01', 'running'],
    ]);
    expect(await attempts.nth(0).textContent()).toMatch(
      /Attempt 1 on mac-mini-02.*exit code 1.*EXIT_NONZERO/,
    );
    const gpuBox = await fleet.off.agents.get('gpu-render-01');
    expect(
      await attempts.nth(1).getByRole('link', { name: 'gpu-render-01' }).getAttribute('href'),
    ).toBe(`/agents#agent-${gpuBox.id}`);
    await admin.mouse.move(0, 0);
    await shot(admin, 'job');
    await admin.getByRole('button', { name: 'Cancel job' }).click();
    await admin
      .getByRole('heading', { name: new RegExp(`${running.name}.*canceled`) })
      .waitFor({ timeout: 10_000 });
    expect((await fleet.off.get(running.id)).state).toBe('canceled');
    // The page re-reads the attempts when the job changes: the running one ends, canceled.
    await expect.poll(described, { timeout: 5_000 }).toEqual([
      ['1', 'mac-mini-02', 'failed'],
      ['2', 'gpu-render-01', 'canceled'],
    ]);
    await expect.poll(() => processesWith(fleet.marker), { timeout: 5_000 }).toEqual([]);
    await expect(admin.getByRole('button', { name: 'Retry job' }).isVisible()).resolves.toBe(true);
  });

  it('drains an agent from the agents page', async () => {
    await go(admin, 'Agents');
    await admin.getByRole('button', { name: 'Drain mac-mini-02' }).click();
    await admin.getByRole('button', { name: 'Resume mac-mini-02' }).waitFor();
    const card = admin.locator('[data-agent="mac-mini-02"]');
    await expect.poll(() => card.locator('.badge').first().textContent()).toBe('draining');
    expect((await fleet.off.agents.get('mac-mini-02')).state).toBe('draining');
    // Keep something running on the GPU box for the screenshot.
    const render = await fleet.submit({
      name: 'render shot 043',
      command: "echo '::progress 12 loading'; exec sleep 300",
      queue: 'render',
      requires: { gpus: 1, cpu: 8, capabilities: ['blender'] },
    });
    await untilState(fleet.off, render.id, 'running');
    await admin.locator('[data-agent="gpu-render-01"]').getByText('in use').waitFor();
    await admin.mouse.move(0, 0);
    await shot(admin, 'agents');
  });

  it('shows queues and access', async () => {
    await go(admin, 'Queues');
    await admin
      .locator('tr[data-queue="ml"]')
      .getByRole('button', { name: 'Resume queue ml' })
      .waitFor();
    await shot(admin, 'queues');
    await go(admin, 'Access');
    await admin.getByLabel('Name').fill('ci-pipeline');
    await admin.getByRole('checkbox', { name: /^submit/ }).check();
    await admin.getByRole('button', { name: 'Create API key' }).click();
    await admin.getByLabel('The new secret').waitFor();
    await admin.getByRole('button', { name: 'Copy' }).waitFor();
    await shot(admin, 'access');
  });

  it('gives a read-only key no action buttons', async () => {
    const { token: readKey, id: readKeyId } = await fleet.off.keys.create({
      kind: 'api-key',
      name: 'viewer',
      scopes: ['read'],
    });
    const page = await signIn(browser, fleet.url, readKey);
    await page.getByText('read-only', { exact: true }).waitFor();
    const actions = page.getByRole('button', {
      name: /cancel|retry|drain|resume|revoke|pause|create/i,
    });
    await go(page, 'Jobs');
    await page.locator('table.jobs-table').waitFor();
    expect(await page.locator('table.jobs-table input[type="checkbox"]').count()).toBe(0);
    expect(await actions.count()).toBe(0);
    await page.goto(`${fleet.url}/jobs/${running.id}`);
    await page.getByRole('heading', { name: new RegExp(running.name) }).waitFor();
    expect(await actions.count()).toBe(0);
    for (const label of ['Agents', 'Queues']) {
      await go(page, label);
      await page.locator('.agent-card, table.queues-table').first().waitFor();
      expect(await actions.count(), label).toBe(0);
    }
    await go(page, 'Access');
    await page.getByText(/managed with the admin token/).waitFor();
    expect(await actions.count()).toBe(0);
    // Revoked while signed in: at its next reconnect the page is back at sign-in, saying why.
    await fleet.off.keys.revoke(readKeyId);
    for (const socket of browserSockets) socket.destroy();
    browserSockets.clear();
    await page.getByText(/no longer accepts this key/).waitFor();
    await page.getByLabel('API key or admin token').waitFor();
    await page.context().close();
  });

  it('reconnects the event stream after its connection drops, and catches up', async () => {
    await go(admin, 'Jobs');
    await admin.locator('table.jobs-table').waitFor();
    // Cut the browser's connections (the agents keep theirs) and hold its reconnect until a
    // job has been created: only the reload after reconnecting can show that job.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await admin.route('**/api/v1/events**', async (route) => {
      await gate;
      await route.continue();
    });
    expect(browserSockets.size).toBeGreaterThan(0);
    for (const socket of browserSockets) socket.destroy();
    browserSockets.clear();
    const name = `after-drop-${Date.now()}`;
    await fleet.submit({ name, command: 'echo back', queue: 'media' });
    release();
    await admin.locator('tr', { has: admin.getByRole('link', { name }) }).waitFor();
    await admin.getByText('Live', { exact: true }).waitFor();
    await admin.unroute('**/api/v1/events**');
  });

  it('fits a 390 px phone screen without sideways scrolling', async () => {
    const page = await signIn(browser, fleet.url, ADMIN, 390);
    // A string, evaluated in the page: the test's tsconfig has no DOM types.
    const overflow = async () =>
      Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
    await page.getByRole('list', { name: 'Jobs by state' }).waitFor();
    expect(await overflow(), 'overview').toBeLessThanOrEqual(0);
    await shot(page, 'overview-390');
    for (const [label, ready] of [
      ['Jobs', 'table.jobs-table'],
      ['Agents', '.agent-card'],
      ['Queues', 'table.queues-table'],
      ['Access', 'form'],
    ] as const) {
      await go(page, label);
      await page.locator(ready).first().waitFor();
      if (label === 'Jobs' || label === 'Access') await shot(page, `${label.toLowerCase()}-390`);
      expect(await overflow(), label).toBeLessThanOrEqual(0);
    }
    await page.context().close();
  });
});
