package apitest

import "strings"

// BackgroundStatement reports whether query belongs to the server's background work —
// the catalog change feed (it polls every 200 ms), the event relay and outbox, webhook
// deliveries — which may run while a test's request does. Tests that count a request's
// statements through a wrapped driver (NewWithDriver) leave these out.
func BackgroundStatement(query string) bool {
	return strings.Contains(query, "catalog_changes") || strings.Contains(query, "webhook_deliveries") ||
		strings.Contains(query, "event")
}
