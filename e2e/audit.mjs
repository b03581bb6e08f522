// Runs the graphql-http audit — the GraphQL-over-HTTP conformance checks of the npm
// graphql-http package (serverAudits) — against a Xiadan server, and prints one JSON report
// line: every check with its status, and each failure's reason and response.
//
//   node e2e/audit.mjs <http://host/graphql>
//
// Exits 1 unless every check passed (status "ok"; warnings and notices count as failures:
// the goal is all of them). Driven by TestGraphQLHTTPAudit (internal/app/e2etest/node_clients_test.go).
import { serverAudits } from 'graphql-http';

const [url] = process.argv.slice(2);
if (!url) {
  console.error('usage: node audit.mjs <http://host/graphql>');
  process.exit(2);
}

const report = { ok: false, total: 0, passed: 0, failed: [] };
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  report.total++;
  let result;
  try {
    result = await audit.fn();
  } catch (err) {
    result = { status: 'error', reason: `the audit threw: ${err instanceof Error ? err.message : err}` };
  }
  if (result.status === 'ok') {
    report.passed++;
    continue;
  }
  let body = null;
  let status = null;
  let contentType = null;
  if (result.response) {
    status = result.response.status;
    contentType = result.response.headers.get('content-type');
    try {
      body = (await result.response.text()).slice(0, 500);
    } catch {
      body = '(body already read)';
    }
  }
  report.failed.push({ id: audit.id, name: audit.name, status: result.status, reason: result.reason, response: { status, contentType, body } });
}
report.ok = report.failed.length === 0 && report.total > 0;
console.log(JSON.stringify(report));
process.exit(report.ok ? 0 : 1);
