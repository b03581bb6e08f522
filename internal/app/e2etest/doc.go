// Package e2etest holds Xiadan's slow end-to-end tests: real clients against the real
// server — Chromium driving the playground and a cross-origin page (playwright-core), the
// npm GraphQL clients (graphql-ws, subscriptions-transport-ws, Apollo, urql, graphql-sse)
// and the graphql-http audit run by node on e2e/*.mjs — and two `xiadan serve` processes
// sharing events over NATS.
//
// They live in their own package, not in internal/app, so `go test ./...` runs them in a
// test binary of their own, beside internal/app's on the other core, instead of after it.
// They need node, Chromium and e2e/node_modules (bash e2e/setup.sh): without them they skip
// loudly, and fail under CI=true.
package e2etest
