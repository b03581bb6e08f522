// Runs a storefront flow with a real npm GraphQL client over HTTP — search products, add
// to the cart, place the order, pay it in the payment sandbox — while an order-event
// subscription, opened first, waits for the order's PAID event; urql and Apollo Client also
// run a query with @defer. Prints one JSON report line.
//
//   node e2e/http-clients.mjs <client> <http://host/graphql> <access token> <search keyword>
//
// <client> is one of:
//   sse-distinct  graphql-sse, distinct connections (one event stream per operation)
//   sse-single    graphql-sse, single connection mode (PUT reservation, one stream)
//   urql          @urql/core with its fetchExchange; subscriptions over the same fetch
//                 (fetchSubscriptions), which Xiadan answers as an event stream
//   apollo        @apollo/client with HttpLink; subscriptions as Apollo's multipart
//                 subscriptions
//
// Driven by TestNodeHTTPClients (internal/app/e2etest/node_clients_test.go), which writes a line on
// stdin once the subscription is registered.
import { createClient as createSSEClient } from 'graphql-sse';
import { Client as UrqlClient, fetchExchange, gql as urqlGql } from '@urql/core';
import { ApolloClient, HttpLink, InMemoryCache, gql as apolloGql } from '@apollo/client';
import { Defer20220824Handler } from '@apollo/client/incremental';

const [kind, url, token, keyword] = process.argv.slice(2);
if (!kind || !url || !token || !keyword) {
  console.error('usage: node http-clients.mjs <sse-distinct|sse-single|urql|apollo> <http://host/graphql> <access token> <keyword>');
  process.exit(2);
}
const started = Date.now();
const report = { ok: false, client: kind, steps: [], events: [], order: null, deferred: null, error: null, elapsedMs: 0 };
function finish(code) {
  report.elapsedMs = Date.now() - started;
  console.log(JSON.stringify(report));
  process.exit(code);
}
const fail = (err) => {
  report.error = err instanceof Error ? `${err.message}${err.cause ? ` (${err.cause})` : ''}` : JSON.stringify(err);
  finish(1);
};
setTimeout(() => fail(new Error(`timed out after steps ${report.steps.join(', ')}`)), 30_000);

const Q = {
  search: `query Search($k: String!) { products(first: 5, where: { keyword: $k }) { edges { node { id title variants { id sku } } } } }`,
  add: `mutation Add($v: ID!) { addToCart(variantID: $v, quantity: 1) { quantity } }`,
  place: `mutation Place($i: PlaceOrderInput!) { placeOrder(input: $i) { checkoutID orders { id number status } } }`,
  pay: `mutation Pay($i: PayOrderInput!) { payOrder(input: $i) { id } }`,
  complete: `mutation Complete($id: ID!) { sandboxCompletePayment(paymentID: $id, outcome: SUCCEEDED) { status } }`,
  events: `subscription Events { myOrderEvents { type toStatus order { id status } } }`,
  defer: `query Deferred($id: ID!) { product(id: $id) { id ... @defer(label: "variants") { variants { sku } } } }`,
};
const address = { recipientName: '王小明', phone: '13800138000', province: '上海市', city: '上海市', district: '浦东新区', street: '世纪大道 100 号' };
const run = `${kind}-${started}`;

// Each client offers: request(query, variables) → data; subscribe(query, onData, onError) → stop.
function clientFor(kind) {
  const auth = { Authorization: `Bearer ${token}` };
  if (kind === 'sse-distinct' || kind === 'sse-single') {
    const client = createSSEClient({ url, headers: auth, singleConnection: kind === 'sse-single', retryAttempts: 0 });
    return {
      request: (query, variables) => new Promise((resolve, reject) => {
        let data;
        client.subscribe({ query, variables }, {
          next: (r) => (r.errors ? reject(new Error(JSON.stringify(r.errors))) : (data = r.data)),
          error: reject,
          complete: () => resolve(data),
        });
      }),
      subscribe: (query, onData, onError) => client.subscribe({ query }, {
        next: (r) => (r.errors ? onError(r.errors) : onData(r.data)),
        error: onError,
        complete: () => {},
      }),
      dispose: () => client.dispose(),
    };
  }
  if (kind === 'urql') {
    const client = new UrqlClient({ url, exchanges: [fetchExchange], fetchSubscriptions: true, fetchOptions: { headers: auth }, requestPolicy: 'network-only' });
    return {
      request: async (query, variables) => {
        const doc = urqlGql(query);
        const isMutation = /^\s*mutation/.test(query);
        const r = await (isMutation ? client.mutation(doc, variables) : client.query(doc, variables)).toPromise();
        if (r.error) throw r.error;
        return r.data;
      },
      subscribe: (query, onData, onError) => {
        const { unsubscribe } = client.subscription(urqlGql(query), {}).subscribe((r) => (r.error ? onError(r.error) : onData(r.data)));
        return unsubscribe;
      },
      // urql delivers a deferred query as a stream of merged results; the last one is whole.
      deferred: (query, variables) => new Promise((resolve, reject) => {
        const results = [];
        const { unsubscribe } = client.query(urqlGql(query), variables).subscribe((r) => {
          if (r.error) return reject(r.error);
          results.push(r.data);
          if (!r.hasNext) {
            unsubscribe();
            resolve({ parts: results.length, data: r.data });
          }
        });
      }),
      dispose: () => {},
    };
  }
  if (kind === 'apollo') {
    // Apollo Client 4 reads @defer results with an incremental handler; Xiadan speaks the
    // format it names deferSpec=20220824.
    const client = new ApolloClient({ link: new HttpLink({ uri: url, headers: auth }), cache: new InMemoryCache(),
      incrementalHandler: new Defer20220824Handler(), defaultOptions: { query: { fetchPolicy: 'no-cache' } } });
    return {
      request: async (query, variables) => {
        const doc = apolloGql(query);
        const r = /^\s*mutation/.test(query)
          ? await client.mutate({ mutation: doc, variables, fetchPolicy: 'no-cache' })
          : await client.query({ query: doc, variables, fetchPolicy: 'no-cache' });
        if (r.error) throw r.error;
        return r.data;
      },
      subscribe: (query, onData, onError) => {
        const sub = client.subscribe({ query: apolloGql(query) }).subscribe({
          next: (r) => (r.error ? onError(r.error) : onData(r.data)),
          error: onError,
        });
        return () => sub.unsubscribe();
      },
      // Apollo emits the initial result, then the merged result as each part arrives.
      deferred: (query, variables) => new Promise((resolve, reject) => {
        const results = [];
        const sub = client.watchQuery({ query: apolloGql(query), variables, fetchPolicy: 'no-cache' }).subscribe({
          next: (r) => {
            if (r.error) return reject(r.error);
            if (!r.data) return;
            results.push(r.data);
            if (r.data.product?.variants) {
              sub.unsubscribe();
              resolve({ parts: results.length, data: r.data });
            }
          },
          error: reject,
        });
      }),
      dispose: () => client.stop(),
    };
  }
  throw new Error(`unknown client ${kind}`);
}

try {
  const c = clientFor(kind);
  const search = await c.request(Q.search, { k: keyword });
  const product = search.products.edges[0]?.node;
  if (!product) throw new Error(`no product found for ${keyword}`);
  report.steps.push('search');

  let orderID = null;
  let resolvePaid;
  const paid = new Promise((resolve) => (resolvePaid = resolve));
  const subscribed = c.subscribe(Q.events, (data) => {
    const e = data.myOrderEvents;
    report.events.push(e);
    if (orderID && e.type === 'PAID' && e.order.id === orderID) resolvePaid(e);
  }, fail);
  // The Go test writes a line on stdin once the server has registered the subscription, so
  // no event can be missed however slow the machine.
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.pause();

  await c.request(Q.add, { v: product.variants[0].id });
  report.steps.push('addToCart');
  const placed = await c.request(Q.place, { i: { fromCart: true, shippingAddress: address, idempotencyKey: `place-${run}` } });
  orderID = placed.placeOrder.orders[0].id;
  report.order = placed.placeOrder.orders[0];
  report.steps.push('placeOrder');
  const payment = await c.request(Q.pay, { i: { checkoutID: placed.placeOrder.checkoutID, method: 'WECHAT_PAY', idempotencyKey: `pay-${run}` } });
  report.steps.push('payOrder');
  const done = await c.request(Q.complete, { id: payment.payOrder.id });
  if (done.sandboxCompletePayment.status !== 'SUCCEEDED') throw new Error(`payment ${JSON.stringify(done)}`);
  report.steps.push('sandboxCompletePayment');
  // PAID may have arrived before orderID was known: look back too.
  const early = report.events.find((e) => e.type === 'PAID' && e.order.id === orderID);
  await (early ? Promise.resolve(early) : paid);
  report.steps.push('PAID event');
  if (typeof subscribed === 'function') subscribed();

  if (c.deferred) {
    report.deferred = await c.deferred(Q.defer, { id: product.id });
    if (report.deferred.data.product.variants?.[0]?.sku !== product.variants[0].sku) throw new Error(`deferred ${JSON.stringify(report.deferred)}`);
    report.steps.push('@defer');
  }
  c.dispose();
  report.ok = true;
  finish(0);
} catch (err) {
  fail(err);
}
