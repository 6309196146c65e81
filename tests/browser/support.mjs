// What the browser suites share: configuration from the environment, Debian's Chromium driven by
// playwright-core, pages that record the errors they raise, screenshots and bounded waits.
//
// Environment:
//   BASE_URL        the mediator, e.g. http://127.0.0.1:8080 (required)
//   ADMIN_TOKEN     its operator token (required)
//   SCREENSHOT_DIR  where the screenshots go (default: ./screenshots)
//   CHROMIUM        the browser (default: /usr/bin/chromium)

import assert from 'node:assert/strict';
import {mkdirSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {chromium} from 'playwright-core';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (see tests/browser/support.mjs)`);
  return value;
}

export const config = {
  baseUrl: required('BASE_URL').replace(/\/$/, ''),
  adminToken: required('ADMIN_TOKEN'),
  screenshotDir: process.env.SCREENSHOT_DIR || 'screenshots',
  chromium: process.env.CHROMIUM || '/usr/bin/chromium',
};

/** The books the system under test was seeded with (tests/browser/catalogue.json). */
export const catalogue = JSON.parse(readFileSync(new URL('./catalogue.json', import.meta.url), 'utf8')).books;

export const DESKTOP = {width: 1280, height: 900};
export const PHONE = {width: 390, height: 844};

export async function launchBrowser() {
  return chromium.launch({
    executablePath: config.chromium,
    headless: true,
    // The machine has no network beyond loopback: no background traffic, no GPU.
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-sync', '--disable-background-networking'],
  });
}

/**
 * A page in a fresh context (its own storage: a new visitor). `page.errors` collects uncaught
 * exceptions and console errors that are not failed requests (those are expected: 4xx answers).
 */
export async function openPage(browser, {viewport = DESKTOP} = {}) {
  const context = await browser.newContext({viewport, baseURL: config.baseUrl, locale: 'en-US', timezoneId: 'UTC'});
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      page.errors.push(`console: ${message.text()}`);
    }
  });
  return page;
}

/** Saves a full-page screenshot as SCREENSHOT_DIR/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(config.screenshotDir, {recursive: true});
  await page.screenshot({path: join(config.screenshotDir, `${name}.png`), fullPage: true});
}

/** Polls `probe` until it returns a truthy value (returned) or the time is up (throws `what`). */
export async function eventually(probe, {timeout = 30_000, interval = 250, what = 'condition'} = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** A username no other run uses. */
export function uniqueName(prefix) {
  return `${prefix}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** A card expiry three years ahead, "12/YY". */
export function futureExpiry() {
  return `12/${String((new Date().getUTCFullYear() + 3) % 100).padStart(2, '0')}`;
}

/**
 * Runs `body(page)` on a new page (a new visitor). Afterwards the page must have reported no
 * error; on any failure a screenshot FAILED-<name>.png is saved first. The page's context is
 * closed either way.
 */
export async function withPage(browser, name, body, {viewport = DESKTOP} = {}) {
  const page = await openPage(browser, {viewport});
  try {
    await body(page);
    assert.deepEqual(page.errors, [], 'the page reported errors');
  } catch (error) {
    await screenshot(page, `FAILED-${name}`).catch(() => {});
    throw error;
  } finally {
    await page.context().close();
  }
}
