import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);

/**
 * Where screenshots go: docs/images/ with UPDATE_SCREENSHOTS=1 (to refresh the docs), else a
 * scratch directory, so a test run does not rewrite tracked files.
 */
export function screenshotDir(scratch: string): string {
  const dir =
    process.env.UPDATE_SCREENSHOTS === '1'
      ? fileURLToPath(new URL('../../docs/images', import.meta.url))
      : path.join(scratch, 'screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** A page in a fresh context (its own localStorage); waits fail after 10 s, not Playwright's 30. */
export async function newPage(browser: Browser, width = 1280): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height: 860 } });
  context.setDefaultTimeout(10_000);
  return context.newPage();
}

/** Opens the dashboard in a fresh context (its own localStorage) and signs in with `key`. */
export async function signIn(
  browser: Browser,
  url: string,
  key: string,
  width = 1280,
): Promise<Page> {
  const page = await newPage(browser, width);
  await page.goto(url);
  await page.getByLabel('API key or admin token').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  return page;
}

/** The app navigates without reloads; this clicks the nav link like a user. */
export async function go(page: Page, label: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label }).click();
}
