// Package fulfilment gets orders to customers: shipments and carrier tracking for physical
// goods, delivered content for virtual goods, rendered services, and the customer's
// confirmation.
//
// Every operation reads the order (or shipment) as the caller may see it, checks the
// caller's part in it, and then writes as the system — the privacy policies let only the
// system write orders, shipments and tracking — in the caller's transaction. Status moves
// go through the order state machine (orders.Service.Transition), whose conditional update
// makes concurrent moves safe.
//
// A merchant may ship (or fulfil) a PAID order without accepting it first, as Taobao lets
// sellers do: the order is accepted implicitly in the same transaction and the timeline
// shows both steps.
package fulfilment

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/orders"
)

// Service runs fulfilment on top of the order state machine.
type Service struct {
	Orders *orders.Service
}

// system returns ctx with privacy bypassed, for writes after the service's own checks.
func system(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}

// startFulfilment locks order o and checks that it may be shipped or fulfilled now,
// accepting it when it is only PAID, and returns it as locked. what names the step for the
// error message ("ship", "deliver", …). Lines delivered apart from the order's own path
// (the virtual or service lines of a PHYSICAL order) may be delivered until it completes.
//
// The lock comes first so that concurrent steps on one order — shipping the parcel while
// the codes of a mixed order are delivered, say — take turns and each decides on the
// status the previous one left, instead of losing a conditional write to a move that did
// not concern it.
func (s *Service) startFulfilment(ctx context.Context, db *ent.Client, o *ent.Order, actor orders.Actor, what string) (*ent.Order, error) {
	o, err := orders.Lock(ctx, db, o.ID)
	if err != nil {
		return nil, err
	}
	switch o.Status {
	case order.StatusACCEPTED:
		return o, nil
	case order.StatusPAID:
		return s.Orders.Transition(ctx, db, o, order.StatusACCEPTED, actor, "accepted to "+what, nil)
	case order.StatusSHIPPED, order.StatusDELIVERED:
		if what != "ship" && o.Fulfilment == order.FulfilmentPHYSICAL {
			return o, nil
		}
	}
	return nil, apperror.WrongState(string(o.Status), "cannot %s order %s: only a PAID or ACCEPTED order can", what, o.Number)
}

// requireFulfilment returns BAD_USER_INPUT on orderID when o is of another kind: the kind
// of an order never changes, so no state could make the call right.
func requireFulfilment(o *ent.Order, want order.Fulfilment, instead string) error {
	if o.Fulfilment == want {
		return nil
	}
	return apperror.BadInput("orderID", "order %s is %s, not %s: %s", o.Number, o.Fulfilment, want, instead)
}

// insteadOf says which mutation fulfils orders of kind f.
func insteadOf(f order.Fulfilment) string {
	switch f {
	case order.FulfilmentPHYSICAL:
		return "ship it with shipOrder"
	case order.FulfilmentVIRTUAL:
		return "deliver it with deliverVirtualGoods"
	}
	return "mark it with markServiceRendered"
}
