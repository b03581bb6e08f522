// Entry of the embedded GraphQL IDE. The page's only inline content is a JSON data block
// (<script type="application/json" id="playground-config">), which CSP does not treat as
// script; everything executable comes from this bundle, served from the same origin.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { createClient } from 'graphql-ws/client';
import 'graphiql/graphiql.css';
import './playground.css';

function readConfig() {
  const el = document.getElementById('playground-config');
  let cfg = {};
  try {
    cfg = JSON.parse((el && el.textContent) || '{}') || {};
  } catch (err) {
    console.error('playground: bad configuration', err);
  }
  return {
    endpoint: cfg.endpoint || '/graphql',
    subscriptionEndpoint: cfg.subscriptionEndpoint || cfg.endpoint || '/graphql',
    tabs: Array.isArray(cfg.tabs) ? cfg.tabs : [],
    styleNonce: typeof cfg.styleNonce === 'string' ? cfg.styleNonce : '',
  };
}

// wsURL turns a path such as /graphql into ws(s)://<this host>/graphql, following the page's
// own scheme, so subscriptions work behind TLS and on any host or port.
export function wsURL(endpoint, location = window.location) {
  if (/^wss?:\/\//i.test(endpoint)) return endpoint;
  const u = new URL(endpoint, location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

// Each distinct set of headers from the header editor gets its own graphql-ws client whose
// connection_init payload carries those same headers, so subscriptions authenticate exactly
// like HTTP requests. Clients are lazy: an old one closes once its last subscription ends.
function makeFetcher(cfg) {
  const url = new URL(cfg.endpoint, window.location.href).toString();
  const subscriptionUrl = wsURL(cfg.subscriptionEndpoint);
  let current = null;
  const forHeaders = (headers) => {
    const key = JSON.stringify(headers);
    if (!current || current.key !== key) {
      const wsClient = createClient({
        url: subscriptionUrl,
        lazy: true,
        connectionParams: () => ({ ...headers }),
      });
      current = { key, fetcher: createGraphiQLFetcher({ url, wsClient }) };
    }
    return current.fetcher;
  };
  return (params, opts) => {
    const headers = opts && opts.headers && typeof opts.headers === 'object' ? opts.headers : {};
    return forHeaders(headers)(params, opts);
  };
}

function defaultTabs(tabs) {
  return tabs
    .filter((t) => t && typeof t.query === 'string')
    .map((t) => {
      let query = t.query;
      if (t.name && !query.trimStart().startsWith('#')) query = `# ${t.name}\n${query}`;
      return { query, variables: t.variables || null, headers: t.headers || null };
    });
}

const cfg = readConfig();
// The dialogs' scroll lock (react-remove-scroll) inserts a <style> element; it takes its
// nonce from this global, which the page's CSP allows for style-src and nothing else.
if (cfg.styleNonce) globalThis.__webpack_nonce__ = cfg.styleNonce;
const tabs = defaultTabs(cfg.tabs);
const root = createRoot(document.getElementById('graphiql'));
root.render(
  <StrictMode>
    <GraphiQL
      fetcher={makeFetcher(cfg)}
      defaultTabs={tabs.length ? tabs : undefined}
      isHeadersEditorEnabled
      defaultEditorToolsVisibility="headers"
      shouldPersistHeaders
    />
  </StrictMode>,
);
