package partners

import (
	"slices"
	"strings"

	"github.com/xiadan/xiadan/internal/apperror"
)

// The scopes a partner client may hold. A token carries a subset of its client's scopes,
// and every API that a partner may call checks the one it needs.
const (
	// ScopeOrdersRead reads the merchants' orders, their shipments and order events.
	ScopeOrdersRead = "orders:read"
	// ScopeOrdersWrite manages the merchants' orders (accept, ship, deliver, mark rendered); it includes reading them.
	ScopeOrdersWrite = "orders:write"
	// ScopeTrackingWrite adds carrier scans to the merchants' shipments (addTrackingEvent).
	ScopeTrackingWrite = "tracking:write"
	// ScopeWebhooksManage registers and manages webhooks for the merchants.
	ScopeWebhooksManage = "webhooks:manage"
)

// Scopes are all the scopes, in the order they are documented.
var Scopes = []string{ScopeOrdersRead, ScopeOrdersWrite, ScopeTrackingWrite, ScopeWebhooksManage}

// checkScopes validates requested scopes and returns them deduplicated, in the order of
// Scopes, so that equal grants are stored alike.
func checkScopes(field string, requested []string) ([]string, error) {
	if len(requested) == 0 {
		return nil, apperror.BadInput(field, "name at least one of %s", strings.Join(Scopes, ", "))
	}
	for _, s := range requested {
		if !slices.Contains(Scopes, strings.TrimSpace(s)) {
			return nil, apperror.BadInput(field, "%q is not a scope; use %s", s, strings.Join(Scopes, ", "))
		}
	}
	var out []string
	for _, s := range Scopes {
		if slices.ContainsFunc(requested, func(r string) bool { return strings.TrimSpace(r) == s }) {
			out = append(out, s)
		}
	}
	return out, nil
}
