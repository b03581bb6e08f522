#!/usr/bin/env node
// Opens pages served from other origins than the API in headless Debian Chromium
// (playwright-core) and lets each call the API with fetch, the way a storefront on its own
// domain does: a POST with JSON and Apollo's preflight header, then a GET query. Each
// page stores what it saw in window.__result; this script prints ONE line of JSON with
// every page's result and the browser's console errors, which
// internal/app/e2etest/cors_e2e_test.go checks. It asserts nothing itself.
//
//   node e2e/cors.mjs <page-url> [<page-url> …]
//
// Environment: CHROMIUM (default /usr/bin/chromium); nothing is downloaded.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const STEP_MS = 30_000; // generous: the suite runs beside other test binaries on 2 cores
const log = (...a) => console.error('[cors-e2e]', ...a);

async function main() {
  const urls = process.argv.slice(2);
  if (urls.length === 0) throw new Error('usage: node e2e/cors.mjs <page-url> [<page-url> …]');
  const report = { ok: false, browserVersion: '', pages: [], error: '' };
  const profile = mkdtempSync(join(tmpdir(), 'xiadan-cors-e2e-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      chromiumSandbox: false,
      timeout: STEP_MS,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    report.browserVersion = context.browser()?.version() || '';
    for (const url of urls) {
      const page = await context.newPage();
      const consoleErrors = [];
      page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
      log('opening', url);
      await page.goto(url, { timeout: STEP_MS });
      await page.waitForFunction(() => window.__result !== undefined, null, { timeout: STEP_MS });
      const result = await page.evaluate(() => window.__result);
      report.pages.push({ url, result, consoleErrors });
      await page.close();
    }
    report.ok = true;
  } catch (e) {
    report.error = String(e && e.stack || e);
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.stack || e) }) + '\n');
});
