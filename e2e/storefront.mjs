// A storefront's order flow with a real GraphQL client library, as a front end would run
// it: search products, add one to the cart, place the order from the cart, follow the
// order with a subscription, pay with the sandbox, and receive the order's PAID event.
//
//   node e2e/storefront.mjs <client> <http://host/graphql> <ws://host/graphql> <access token> <keyword>
//
// <client> is one of
//   graphql-ws                  the graphql-ws client (graphql-transport-ws) for everything,
//                               and an in-band token refresh (a ping with {type: "refresh"})
//   subscriptions-transport-ws  the legacy client (subprotocol graphql-ws) for everything
//   apollo                      Apollo Client: HttpLink for queries and mutations,
//                               GraphQLWsLink (graphql-ws) for the subscription, and a refresh
//
// Each step prints one JSON line {"stage": …}; after "subscribed" the script waits for a
// line on standard input (the Go test sends it once the server holds the subscription, as
// orderStatusChanged follows an order from now on), then pays. The last line is the report
// {"ok": …, "client": …, "protocol": …, "order": …, "events": […], "refresh": …, "error": …}.
// Driven by TestNodeStorefrontClients (internal/app/e2etest/websocket_e2e_test.go).
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const [clientName, httpURL, wsURL, token, keyword] = process.argv.slice(2);
if (!clientName || !httpURL || !wsURL || !token || !keyword) {
  console.error('usage: node storefront.mjs <client> <http url> <ws url> <access token> <keyword>');
  process.exit(2);
}
const started = Date.now();
const report = { ok: false, client: clientName, protocol: null, order: null, events: [], refresh: null, error: null, elapsedMs: 0 };
const stage = (name, extra = {}) => console.log(JSON.stringify({ stage: name, ...extra }));
let cleanup = () => {};

function finish(code) {
  report.elapsedMs = Date.now() - started;
  try { cleanup(); } catch { /* closing anyway */ }
  console.log(JSON.stringify(report));
  process.exit(code);
}
const fail = (err) => {
  report.error = err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err);
  finish(1);
};
setTimeout(() => fail(`timed out after ${report.events.length} events`), 40_000).unref();

const SEARCH = `query Search($k: String!) { products(first: 5, where: { keyword: $k }) { edges { node { id title variants { id } } } } }`;
const ADD = `mutation Add($v: ID!) { addToCart(variantID: $v, quantity: 1) { quantity } }`;
const PLACE = `mutation Place($i: PlaceOrderInput!) { placeOrder(input: $i) { checkoutID orders { id number status } } }`;
const FOLLOW = `subscription Follow($o: ID!) { orderStatusChanged(orderID: $o) { type toStatus order { id number status } } }`;
const PAY = `mutation Pay($i: PayOrderInput!) { payOrder(input: $i) { id } }`;
const SANDBOX = `mutation Sandbox($p: ID!) { sandboxCompletePayment(paymentID: $p, outcome: SUCCEEDED) { status } }`;
const address = { recipientName: '王小明', phone: '13800138000', province: '上海市', city: '上海市', district: '浦东新区', street: '世纪大道 100 号' };
const auth = { Authorization: `Bearer ${token}` };

// A refresh ping: the server answers with a pong {type: "refresh", expiresAt} (or error).
const refreshPing = JSON.stringify({ type: 'ping', payload: { type: 'refresh', token } });

// Each client supplies run(query, variables) → data (throws on errors) and
// follow(query, variables, onData, onError) → unsubscribe.
async function makeClient() {
  if (clientName === 'graphql-ws' || clientName === 'apollo') {
    const { createClient } = await import('graphql-ws');
    let socket;
    let refreshed;
    const ws = createClient({
      url: wsURL,
      webSocketImpl: WebSocket,
      connectionParams: auth,
      retryAttempts: 0,
      lazy: false,
      on: {
        connected: (s) => { socket = s; report.protocol = s.protocol; },
        pong: (received, payload) => {
          if (received && payload?.type === 'refresh') { report.refresh = payload; refreshed?.(); }
        },
      },
    });
    cleanup = () => ws.dispose();
    // Resolves once the pong has answered, so the report holds it before the PAID event.
    const refresh = () => new Promise((resolve) => { refreshed = resolve; socket.send(refreshPing); });
    if (clientName === 'apollo') {
      const { ApolloClient, InMemoryCache, HttpLink, ApolloLink, gql } = await import('@apollo/client');
      const { GraphQLWsLink } = await import('@apollo/client/link/subscriptions');
      const { getMainDefinition } = await import('@apollo/client/utilities');
      const link = ApolloLink.split(
        ({ query }) => {
          const def = getMainDefinition(query);
          return def.kind === 'OperationDefinition' && def.operation === 'subscription';
        },
        new GraphQLWsLink(ws),
        new HttpLink({ uri: httpURL, headers: auth }),
      );
      const apollo = new ApolloClient({ link, cache: new InMemoryCache() });
      return {
        refresh,
        run: async (q, variables) => {
          const doc = gql(q);
          const op = getMainDefinition(doc).operation;
          const res = op === 'mutation'
            ? await apollo.mutate({ mutation: doc, variables })
            : await apollo.query({ query: doc, variables, fetchPolicy: 'no-cache' });
          if (res.error) throw res.error;
          return res.data;
        },
        follow: (q, variables, onData, onError) => {
          const sub = apollo.subscribe({ query: gql(q), variables }).subscribe({
            next: (res) => (res.error ? onError(res.error) : onData(res.data)),
            error: onError,
            complete: () => onError('the server completed the subscription'),
          });
          return () => sub.unsubscribe();
        },
      };
    }
    return {
      refresh,
      run: (q, variables) => new Promise((resolve, reject) => {
        let data;
        ws.subscribe({ query: q, variables }, {
          next: (r) => { if (r.errors) reject(r.errors); else data = r.data; },
          error: reject,
          complete: () => resolve(data),
        });
      }),
      follow: (q, variables, onData, onError) => ws.subscribe({ query: q, variables }, {
        next: (r) => (r.errors ? onError(r.errors) : onData(r.data)),
        error: onError,
        complete: () => onError('the server completed the subscription'),
      }),
    };
  }
  if (clientName === 'subscriptions-transport-ws') {
    const { SubscriptionClient } = (await import('subscriptions-transport-ws')).default;
    const client = new SubscriptionClient(wsURL, { connectionParams: auth, reconnect: false, lazy: false }, WebSocket);
    report.protocol = 'graphql-ws';
    client.onError((e) => fail(`socket error: ${e?.message ?? e}`));
    cleanup = () => client.close();
    return {
      refresh: null,
      run: (q, variables) => new Promise((resolve, reject) => {
        let data;
        client.request({ query: q, variables }).subscribe({
          next: (r) => { if (r.errors) reject(r.errors); else data = r.data; },
          error: reject,
          complete: () => resolve(data),
        });
      }),
      follow: (q, variables, onData, onError) => {
        const sub = client.request({ query: q, variables }).subscribe({
          next: (r) => (r.errors ? onError(r.errors) : onData(r.data)),
          error: onError,
          complete: () => onError('the server completed the subscription'),
        });
        return () => sub.unsubscribe();
      },
    };
  }
  throw new Error(`unknown client ${clientName}`);
}

const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

try {
  const c = await makeClient();
  const found = await c.run(SEARCH, { k: keyword });
  const product = found.products.edges.map((e) => e.node).find((p) => p.variants?.length);
  if (!product) throw new Error(`no product found for "${keyword}": ${JSON.stringify(found)}`);
  stage('searched', { product: product.title });

  const cart = await c.run(ADD, { v: product.variants[0].id });
  stage('added', { quantity: cart.addToCart.quantity });

  const placed = await c.run(PLACE, { i: { fromCart: true, shippingAddress: address, idempotencyKey: `e2e-${clientName}-${started}` } });
  const order = placed.placeOrder.orders[0];
  report.order = order;
  stage('placed', { order: order.id });

  c.follow(FOLLOW, { o: order.id }, (data) => {
    const ev = data.orderStatusChanged;
    report.events.push(ev);
    if (ev.type === 'PAID') {
      report.ok = true;
      finish(0);
    }
  }, fail);
  stage('subscribed');
  await stdinLines.next(); // the server holds the subscription

  if (c.refresh) await c.refresh(); // renew the connection's token in-band; the pong says until when

  const payment = await c.run(PAY, { i: { checkoutID: placed.placeOrder.checkoutID, method: 'WECHAT_PAY', idempotencyKey: `e2e-pay-${clientName}-${started}` } });
  const paid = await c.run(SANDBOX, { p: payment.payOrder.id });
  stage('paid', { status: paid.sandboxCompletePayment.status });
} catch (err) {
  fail(err);
}
