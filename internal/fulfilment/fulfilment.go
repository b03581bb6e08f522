// Package fulfilment gets orders to customers: shipments and carrier tracking for physical
// goods, delivered content for virtual goods, rendered services, and the customer's
// confirmation.
package fulfilment

import "github.com/xiadan/xiadan/internal/orders"

// Service runs fulfilment on top of the order state machine.
type Service struct {
	Orders *orders.Service
}
