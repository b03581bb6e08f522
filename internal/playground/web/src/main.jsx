// Entry of the embedded GraphQL IDE. The page's only inline content is a JSON data block
// (<script type="application/json" id="playground-config">), which CSP does not treat as
// script; everything executable comes from this bundle, served from the same origin.
import { StrictMode, useEffect, useSyncExternalStore } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { ToolbarButton, useEditorContext } from '@graphiql/react';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { createClient } from 'graphql-ws/client';
import { parse } from 'graphql';
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
    captures: (Array.isArray(cfg.tabs) ? cfg.tabs : []).flatMap((t) =>
      t && t.captures && typeof t.captures === 'object' ? Object.entries(t.captures) : [],
    ),
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

// The session: the access token of the last sign-in run in any tab (login, register, a
// refresh, any sign-in mutation whose answer carries accessToken). Every request of every
// tab sends it as Authorization: Bearer <token>, unless the tab's own headers set
// Authorization. Kept in localStorage, like GraphiQL's own tabs and headers.
const TOKEN_KEY = 'xiadan-playground:token';
const session = {
  token: readToken(),
  listeners: new Set(),
  set(token) {
    this.token = token || '';
    try {
      if (this.token) localStorage.setItem(TOKEN_KEY, this.token);
      else localStorage.removeItem(TOKEN_KEY);
    } catch {}
    this.listeners.forEach((l) => l());
  },
  subscribe(l) {
    session.listeners.add(l);
    return () => session.listeners.delete(l);
  },
};
function readToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

// withSession adds the session's token to a tab's headers when they carry no Authorization.
export function withSession(headers, token) {
  const out = { ...headers };
  const own = Object.keys(out).some((k) => k.toLowerCase() === 'authorization' && out[k]);
  if (token && !own) out.Authorization = `Bearer ${token}`;
  return out;
}

// tokenOf finds the access token in an answer: data.<field>.accessToken.
export function tokenOf(result) {
  const data = result && typeof result === 'object' ? result.data : null;
  if (!data || typeof data !== 'object') return '';
  for (const v of Object.values(data)) {
    if (v && typeof v === 'object' && typeof v.accessToken === 'string' && v.accessToken) return v.accessToken;
  }
  return '';
}

// valueAt reads a path such as "products.edges.0.node.variants.?available.id" in an answer's
// data: names and indexes step in, and "?field" takes the first element whose field is true.
export function valueAt(data, path) {
  let cur = data;
  for (const part of path.split('.')) {
    if (cur == null) return undefined;
    if (part.startsWith('?')) {
      cur = Array.isArray(cur) ? cur.find((x) => x && x[part.slice(1)] === true) : undefined;
    } else {
      cur = cur[part];
    }
  }
  return cur;
}

// The example tabs name variables filled from answers ("captures": variable → path): once
// an answer has a value at the path, the variable of that name in the active tab takes it,
// so "place the order" then "pay it" needs no copying of ids. Only a tab whose variables
// already name the variable is changed.
let editors = null;
function fillVariables(result, captures) {
  const data = result && result.data;
  const ed = editors && editors.variableEditor;
  if (!data || !ed || !captures.length) return;
  let vars;
  try {
    vars = JSON.parse(ed.getValue() || '{}');
  } catch {
    return;
  }
  if (!vars || typeof vars !== 'object' || Array.isArray(vars)) return;
  let changed = false;
  for (const [name, path] of captures) {
    if (!(name in vars)) continue;
    const v = valueAt(data, path);
    if (v === undefined || v === null || typeof v === 'object' || vars[name] === v) continue;
    vars[name] = v;
    changed = true;
  }
  if (changed) ed.setValue(JSON.stringify(vars, null, 2));
}

function afterResult(result, captures) {
  const token = tokenOf(result);
  if (token) session.set(token);
  fillVariables(result, captures);
}

// withOperation mends a request whose operationName its document does not define. GraphiQL
// 3.9 keeps the selected operation's name across tab switches (seen with Chromium 156), so a
// tab could post another tab's name and the server answers "unknown operation". The name
// becomes that of the operation under the query editor's cursor (what Ctrl-Enter runs), or
// of the document's only operation; failing both the request goes as it is.
function withOperation(params) {
  const name = params && params.operationName;
  if (!name || typeof params.query !== 'string') return params;
  let ops;
  try {
    ops = parse(params.query).definitions.filter((d) => d.kind === 'OperationDefinition');
  } catch {
    return params; // the server explains the syntax error
  }
  if (ops.some((o) => o.name && o.name.value === name)) return params;
  let op = ops.length === 1 ? ops[0] : null;
  const ed = editors && editors.queryEditor;
  if (!op && ed && ed.getValue() === params.query) {
    const at = ed.indexFromPos(ed.getCursor());
    op = ops.find((o) => o.loc && o.loc.start <= at && at <= o.loc.end) || null;
  }
  if (!op) return params;
  return { ...params, operationName: op.name ? op.name.value : undefined };
}

// Each distinct set of headers (the tab's, with the session's token) gets its own graphql-ws
// client whose connection_init payload carries those same headers, so subscriptions
// authenticate exactly like HTTP requests. Clients are lazy: an old one closes once its last
// subscription ends.
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
    const own = opts && opts.headers && typeof opts.headers === 'object' ? opts.headers : {};
    const headers = withSession(own, session.token);
    const res = forHeaders(headers)(withOperation(params), { ...opts, headers });
    // The toolkit's fetcher answers with a promise of either a result or (multipart
    // responses, which it asks for by default, and subscriptions) an async iterable of them;
    // every result is looked at on its way to the IDE.
    if (res && typeof res.then === 'function') {
      return res.then((r) => {
        if (r && typeof r[Symbol.asyncIterator] === 'function') return observed(r, cfg.captures);
        afterResult(r, cfg.captures);
        return r;
      });
    }
    return res;
  };
}

// observed passes on the results of an async iterable, looking at each (a multipart part
// may be a list of results). Closing it closes the source (for await … of calls return).
async function* observed(source, captures) {
  for await (const part of source) {
    for (const r of Array.isArray(part) ? part : [part]) afterResult(r, captures);
    yield part;
  }
}

// SessionButton shows whether a token is applied to every tab, and forgets it when
// clicked. It also hands the editors to fillVariables.
function SessionButton() {
  const ctx = useEditorContext({ nonNull: true });
  useEffect(() => {
    editors = ctx;
  }, [ctx]);
  const token = useSyncExternalStore(session.subscribe, () => session.token);
  const label = token
    ? 'Signed in: every tab sends the token of the last sign-in. Click to forget it.'
    : 'Not signed in: run a sign-in (the "Sign in" tab) and every tab sends its token.';
  return (
    <ToolbarButton
      onClick={() => session.set('')}
      label={label}
      className="playground-session"
      data-signed-in={token ? 'true' : 'false'}
    >
      <svg className="graphiql-toolbar-icon" viewBox="0 0 24 24" aria-hidden="true">
        <circle cx="8" cy="12" r="4" fill="none" stroke="currentColor" strokeWidth="1.8" />
        <path d="M12 12h9M18 12v3M21 12v2" fill="none" stroke="currentColor" strokeWidth="1.8" />
        {token ? null : <path d="M3 3l18 18" stroke="currentColor" strokeWidth="1.8" />}
      </svg>
    </ToolbarButton>
  );
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
      toolbar={{ additionalComponent: SessionButton }}
    />
  </StrictMode>,
);
