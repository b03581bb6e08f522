// Subscribes to the signed-in customer's order events with the npm graphql-ws client (the
// graphql-transport-ws protocol, as front ends speak it) over the ws package, and prints
// one JSON report line when it has received the events it waits for, or failed.
//
//   node e2e/subscriptions.mjs <ws://host/graphql> <access token> [events to wait for=1]
//
// Driven by TestNodeGraphQLWSClient (internal/app/e2etest/node_clients_test.go), which places the order once the
// subscription is registered and checks the report.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, wanted = '1'] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node subscriptions.mjs <ws://host/graphql> <access token> [events]');
  process.exit(2);
}
const want = Number(wanted);
const started = Date.now();
const report = { ok: false, protocol: null, events: [], error: null, elapsedMs: 0 };

function finish(code) {
  report.elapsedMs = Date.now() - started;
  console.log(JSON.stringify(report));
  process.exit(code);
}

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  retryAttempts: 0,
  on: {
    connected: (socket) => { report.protocol = socket.protocol; },
    closed: (event) => {
      if (!report.ok && !report.error) report.error = `socket closed: ${event.code} ${event.reason}`;
    },
  },
});

const timer = setTimeout(() => {
  report.error = `timed out after ${report.events.length} of ${want} events`;
  finish(1);
}, 20_000);

client.subscribe(
  { query: 'subscription { myOrderEvents { cursor sequence type toStatus order { id number status } } }' },
  {
    next: (result) => {
      if (result.errors) {
        report.error = JSON.stringify(result.errors);
        return;
      }
      report.events.push(result.data.myOrderEvents);
      if (report.events.length >= want) {
        report.ok = true;
        clearTimeout(timer);
        client.dispose();
        finish(0);
      }
    },
    error: (err) => {
      report.error = err instanceof Error ? err.message : JSON.stringify(err);
      clearTimeout(timer);
      finish(1);
    },
    complete: () => {
      if (!report.ok) {
        report.error = report.error ?? 'the server completed the subscription';
        clearTimeout(timer);
        finish(1);
      }
    },
  },
);
