#!/usr/bin/env node
// Drives the GraphQL playground (internal/playground) in headless Debian Chromium with
// playwright-core: opens the page, selects the "Browse products" example tab, replaces its
// query with a small products query, runs it with the execute button and reads the result
// pane. It prints ONE line of JSON on stdout, which internal/app/e2etest/playground_e2e_test.go
// checks; progress goes to stderr. It asserts nothing itself beyond "the steps completed".
//
//   node e2e/playground.mjs <server-url> [--screenshot <file.png>] [--email E --password P]
//
// With --password it then signs in with the "Sign in" tab as E, runs "Who am I" (which must
// send the token without the tab's headers naming it), and runs the first two steps of
// "Cart and checkout" (the second with the variant id the first answer filled in).
//
// Environment: CHROMIUM (default /usr/bin/chromium) is the browser to start; nothing is
// downloaded. Every request to a host other than <server-url>'s is blocked and reported.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The query the test types into the editor. Kept named so the tab keeps a readable title.
export const QUERY = `# Browse products
query Browse {
  products(first: 5) {
    totalCount
    edges {
      node {
        title
      }
    }
  }
}
`;

const OVERALL_MS = 90_000; // the Go test gives the whole script 100 s
const STEP_MS = 30_000; // generous: the suite runs beside other test binaries on 2 cores

function parseArgs(argv) {
  const out = { url: '', screenshot: '', email: '', password: '' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--screenshot') out.screenshot = argv[++i] || '';
    else if (argv[i] === '--email') out.email = argv[++i] || '';
    else if (argv[i] === '--password') out.password = argv[++i] || '';
    else if (!out.url) out.url = argv[i];
    else throw new Error(`unexpected argument ${JSON.stringify(argv[i])}`);
  }
  if (!out.url) throw new Error('usage: node e2e/playground.mjs <server-url> [--screenshot <file.png>]');
  return out;
}

const log = (...a) => console.error('[e2e]', ...a);

// The editors' texts, read from their CodeMirror instances.
const queryText = (page) =>
  page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror?.getValue() ?? '');
const resultText = (page) =>
  page.evaluate(() => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror?.getValue() ?? '');
// The variables or headers editor (the one of the editor tools shown now).
const toolText = (page) =>
  page.evaluate(
    () => document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror')?.CodeMirror?.getValue() ?? '',
  );

// selectTab clicks the tab titled title and waits for its editor to start with firstLine.
async function selectTab(page, title, firstLine) {
  await page.locator('.graphiql-tab-button', { hasText: new RegExp(`^\\s*${title}\\s*$`) }).first().click();
  await page.waitForFunction(
    (first) => (document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror?.getValue() ?? '').startsWith(first),
    firstLine,
    { timeout: STEP_MS },
  );
}

// run executes operation op of the tab and returns the response of the POST that carried op, after the result pane shows it.
async function run(page, op) {
  const isOp = (r) => {
    if (r.request().method() !== 'POST' || new URL(r.url()).pathname !== '/graphql') return false;
    let body = {};
    try {
      body = JSON.parse(r.request().postData() || '{}');
    } catch {}
    if (body.operationName) return body.operationName === op;
    return new RegExp(`(query|mutation)\\s+${op}\\b`).test(body.query || '');
  };
  // Seen with Chromium 156 and the bundled GraphiQL: after a tab switch, running a tab of
  // several operations posts the previous tab's operationName, so op never runs. Say so
  // by name rather than time out.
  let stale = '';
  const watch = (r) => {
    if (r.method() !== 'POST' || new URL(r.url()).pathname !== '/graphql') return;
    try {
      const b = JSON.parse(r.postData() || '{}');
      if (b.operationName && b.operationName !== op && !new RegExp(`(query|mutation)\\s+${b.operationName}\\b`).test(b.query || '')) stale = b.operationName;
    } catch {}
  };
  page.on('request', watch);
  const before = await resultText(page);
  // GraphiQL's Ctrl-Enter runs the operation under the editor's cursor and makes it the
  // selected one; the execute button (tested in the first steps) instead runs whatever
  // operationName GraphiQL last kept, which with Chromium 156 can be another tab's, or
  // opens a menu for a tab of several operations. So put the cursor in op and press it.
  const click = async () => {
    const found = await page.evaluate((name) => {
      const cm = document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror;
      if (!cm) return false;
      const m = new RegExp(`(query|mutation|subscription)\\s+${name}\\b`).exec(cm.getValue());
      if (!m) return false;
      cm.focus();
      cm.setCursor(cm.posFromIndex(m.index + 1));
      return cm.hasFocus();
    }, op);
    if (!found) throw new Error(`the editor holds no operation ${op} (or would not take the focus)`);
    await page.keyboard.press('Control+Enter');
  };
  let response;
  try {
    [response] = await Promise.all([page.waitForResponse(isOp, { timeout: STEP_MS }), click()]);
  } catch (e) {
    if (stale) throw new Error(`STALE_OPERATION_NAME: running ${op} posted operationName ${stale} of another tab`);
    throw e;
  } finally {
    page.off('request', watch);
  }
  await page.waitForFunction(
    (prev) => {
      const v = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror?.getValue() ?? '';
      if (v === prev) return false;
      try {
        const j = JSON.parse(v);
        return !!j && ('data' in j || 'errors' in j);
      } catch {
        return false;
      }
    },
    before,
    { timeout: STEP_MS },
  );
  return response;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const base = new URL(args.url);
  const started = Date.now();
  const report = {
    ok: false,
    url: base.href,
    browserVersion: '',
    steps: [],
    tabs: [],
    editorQuery: '',
    resultText: '',
    visibleResultText: '',
    networkResponse: '',
    consoleErrors: [],
    consoleWarnings: [],
    pageErrors: [],
    foreignRequests: [],
    failedRequests: [],
    httpErrors: [],
    requests: [],
    websockets: [],
    signInResult: '',
    signedInIndicator: '',
    whoAmIResult: '',
    whoAmIAuthorization: '',
    whoAmIHeadersEditor: '',
    captureVariables: '',
    addToCartResult: '',
    screenshot: '',
    elapsedMs: 0,
    error: '',
  };
  const step = (name) => {
    report.steps.push({ name, atMs: Date.now() - started });
    log(name);
  };
  const sameOrigin = (u) => {
    try {
      const x = new URL(u);
      if (x.protocol === 'data:' || x.protocol === 'blob:' || x.protocol === 'about:') return true;
      return x.host === base.host && /^(https?|wss?):$/.test(x.protocol);
    } catch {
      return false;
    }
  };

  // A fresh profile for every run, removed afterwards.
  const profile = mkdtempSync(join(tmpdir(), 'xiadan-e2e-chromium-'));
  let context;
  const watchdog = setTimeout(() => {
    report.error = `timed out after ${OVERALL_MS} ms (last step: ${report.steps.at(-1)?.name ?? 'none'})`;
    finish(report, profile, context).finally(() => process.exit(1));
  }, OVERALL_MS);
  try {
    step('launch chromium');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      chromiumSandbox: false,
      timeout: STEP_MS,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
      viewport: { width: 1400, height: 900 },
      deviceScaleFactor: 1,
      locale: 'zh-CN', // the demo's own language: the titles are its Chinese ones (en would be served the English translations)
      serviceWorkers: 'block',
      acceptDownloads: false,
    });
    report.browserVersion = context.browser()?.version() ?? '';
    context.setDefaultTimeout(STEP_MS);

    // Nothing may leave the test server: record and block everything else.
    await context.route('**/*', (route) => {
      const u = route.request().url();
      if (sameOrigin(u)) return route.continue();
      report.foreignRequests.push(u);
      return route.abort('blockedbyclient');
    });
    context.on('request', (r) => {
      report.requests.push(`${r.method()} ${r.url()}`);
      if (!sameOrigin(r.url()) && !report.foreignRequests.includes(r.url())) report.foreignRequests.push(r.url());
    });
    context.on('requestfailed', (r) => {
      if (sameOrigin(r.url())) report.failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
    });
    context.on('response', (r) => {
      if (r.status() >= 400) report.httpErrors.push(`${r.status()} ${r.request().method()} ${r.url()}`);
    });

    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      const entry = { text: m.text(), location: m.location()?.url ?? '' };
      if (m.type() === 'error') report.consoleErrors.push(entry);
      else if (m.type() === 'warning') report.consoleWarnings.push(entry);
    });
    page.on('pageerror', (e) => report.pageErrors.push(String(e && e.stack ? e.stack : e)));
    page.on('websocket', (ws) => {
      report.websockets.push(ws.url());
      if (!sameOrigin(ws.url())) report.foreignRequests.push(ws.url());
    });

    step('open the playground');
    const res = await page.goto(base.href, { waitUntil: 'load' });
    if (!res || !res.ok()) throw new Error(`GET ${base.href}: ${res ? res.status() : 'no response'}`);

    step('wait for GraphiQL');
    await page.locator('.graphiql-container').waitFor({ state: 'visible' });
    const editor = page.locator('.graphiql-query-editor .CodeMirror').first();
    await editor.waitFor({ state: 'visible' });
    await page.locator('.graphiql-tab-button').first().waitFor({ state: 'visible' });
    report.tabs = (await page.locator('.graphiql-tab-button').allInnerTexts()).map((s) => s.trim());

    step('select the "Browse products" example tab');
    // The tab is titled by its operation name ("Browse"); its editor starts "# Browse products".
    await page.locator('.graphiql-tab-button', { hasText: /^\s*Browse\s*$/ }).first().click();
    await page.waitForFunction(
      () => {
        const cm = document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror;
        return !!cm && cm.getValue().startsWith('# Browse products');
      },
      null,
      { timeout: STEP_MS },
    );

    step('type the products query');
    // Click into the editor, select everything and replace it. insertText enters the text the
    // way a paste or IME does, so the editor's bracket auto-closing does not double braces.
    await editor.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Backspace');
    await page.keyboard.insertText(QUERY);
    report.editorQuery = await page.evaluate(
      () => document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror?.getValue() ?? '',
    );
    if (report.editorQuery.trim() !== QUERY.trim()) {
      throw new Error(`the editor holds something else than the typed query:\n${report.editorQuery}`);
    }

    step('run it with the execute button');
    const isProductsPost = (r) =>
      r.request().method() === 'POST' &&
      new URL(r.url()).pathname === '/graphql' &&
      (r.request().postData() || '').includes('products(first: 5)');
    const [response] = await Promise.all([
      page.waitForResponse(isProductsPost, { timeout: STEP_MS }),
      page.locator('.graphiql-execute-button').click(),
    ]);
    report.networkResponse = await response.text();

    step('wait for the result pane');
    await page.waitForFunction(
      () => {
        const v = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror?.getValue() ?? '';
        try {
          const j = JSON.parse(v);
          return !!j && ('data' in j || 'errors' in j);
        } catch {
          return false;
        }
      },
      null,
      { timeout: STEP_MS },
    );
    report.resultText = await page.evaluate(
      () => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror?.getValue() ?? '',
    );
    // What the pane actually renders (the lines CodeMirror has drawn), not just its model.
    report.visibleResultText = await page.locator('.graphiql-response .CodeMirror-code').innerText();

    if (args.password) {
      step('sign in with the "Sign in" tab');
      await selectTab(page, 'Login', '# A demo customer');
      await page.locator('button[data-name="variables"]').click();
      await page.evaluate(
        (vars) => document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').CodeMirror.setValue(vars),
        JSON.stringify({ input: { email: args.email, password: args.password } }, null, 2),
      );
      await run(page, 'Login');
      report.signInResult = await resultText(page);
      await page.locator('[data-signed-in="true"]').waitFor({ state: 'attached', timeout: STEP_MS });
      report.signedInIndicator = 'true';

      step('run "Who am I" with the token applied');
      await selectTab(page, 'WhoAmI', '# Who am I');
      await page.locator('button[data-name="headers"]').click();
      report.whoAmIHeadersEditor = await toolText(page);
      const who = await run(page, 'WhoAmI');
      report.whoAmIAuthorization = (await who.request().allHeaders())['authorization'] || '';
      report.whoAmIResult = await resultText(page);

      step('Cart and checkout: find a variant, then add it with the captured id');
      await selectTab(page, 'FindSomethingToBuy', '# Signed in as a customer');
      await run(page, 'FindSomethingToBuy');
      await page.locator('button[data-name="variables"]').click();
      await page.waitForFunction(
        () => {
          const v = document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror')?.CodeMirror?.getValue();
          try {
            return JSON.parse(v).variantID != null;
          } catch {
            return false;
          }
        },
        null,
        { timeout: STEP_MS },
      );
      report.captureVariables = await toolText(page);
      await run(page, 'AddToCart');
      report.addToCartResult = await resultText(page);
    }

    // Let any late console error or request (schema fetch, fonts) surface before judging.
    await page.waitForLoadState('networkidle', { timeout: 5_000 }).catch(() => {});

    if (args.screenshot) {
      step('screenshot');
      await page.screenshot({ path: args.screenshot, fullPage: false });
      report.screenshot = args.screenshot;
    }
    report.ok = true;
  } catch (err) {
    report.error = String(err && err.stack ? err.stack : err);
    // A picture of the failure helps more than none.
    if (args.screenshot && context) {
      const page = context.pages()[0];
      await page?.screenshot({ path: args.screenshot }).then(
        () => (report.screenshot = args.screenshot),
        () => {},
      );
    }
  } finally {
    clearTimeout(watchdog);
  }
  report.elapsedMs = Date.now() - started;
  await finish(report, profile, context);
  process.exitCode = report.ok ? 0 : 1;
}

let finished = false;
async function finish(report, profile, context) {
  if (finished) return;
  finished = true;
  await context?.close().catch(() => {});
  try {
    rmSync(profile, { recursive: true, force: true });
  } catch {}
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(err && err.stack ? err.stack : err) }) + '\n');
  process.exitCode = 2;
});
