#!/usr/bin/env bash
# Installs what the end-to-end tests need on a fresh Debian machine: Debian's Chromium and a
# CJK font for the browser test of the playground (internal/app/e2etest/playground_e2e_test.go), and
# this folder's pinned npm packages — playwright-core for that test, graphql-ws + ws (+ its
# peer graphql) for the subscription client test (TestNodeGraphQLWSClient in
# internal/app/e2etest/node_clients_test.go, running subscriptions.mjs), subscriptions-transport-ws and
# @apollo/client (+ rxjs) for the storefront clients (TestNodeStorefrontClients, storefront.mjs),
# graphql-http for the GraphQL-over-HTTP audit (audit.mjs) and graphql-sse, @urql/core for
# the HTTP clients (http-clients.mjs; both in internal/app/e2etest/node_clients_test.go). Safe to run again: the Debian packages are installed only when missing, and npm
# ci puts back exactly the pinned packages. Needs root (apt) only when something is missing.
set -euo pipefail
cd "$(dirname "$0")"

command -v chromium >/dev/null 2>&1 || {
  echo "e2e: installing chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}
# The demo's titles are Chinese; without a CJK font the screenshot shows empty boxes
# (the page's own fonts have no CJK glyphs and a minimal Debian has none either).
fc-list :lang=zh 2>/dev/null | grep -q . || {
  echo "e2e: installing a CJK font (fonts-wqy-microhei)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null
}
command -v node >/dev/null 2>&1 || { echo "e2e: node is missing (Node 20 or later is needed)" >&2; exit 1; }

# npm ci installs exactly what package-lock.json pins (a few seconds, and
# playwright-core downloads no browser).
echo "e2e: npm ci"
npm ci --no-audit --no-fund --loglevel=error

version() { node -p "require('./node_modules/$1/package.json').version"; }
echo "e2e: $(chromium --version 2>/dev/null | head -n1); node $(node --version); playwright-core $(version playwright-core); graphql $(version graphql); graphql-ws $(version graphql-ws); ws $(version ws); subscriptions-transport-ws $(version subscriptions-transport-ws); graphql-http $(version graphql-http); graphql-sse $(version graphql-sse); @urql/core $(version @urql/core); @apollo/client $(version @apollo/client)"
