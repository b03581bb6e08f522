// Package orders runs an order's life: checkout split per merchant, stock reservation,
// the status state machine with its timeline, and the background jobs that expire unpaid
// orders and complete delivered ones.
package orders

import (
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/internal/apperror"
)

// Fulfilment is how an order reaches the customer, which decides its path through the
// state machine.
type Fulfilment string

// The fulfilment kinds.
const (
	PhysicalGoods Fulfilment = "PHYSICAL"
	VirtualGoods  Fulfilment = "VIRTUAL"
	ServiceGoods  Fulfilment = "SERVICE"
)

// transitions lists, per fulfilment, the statuses each status may move to.
// PHYSICAL: PENDING_PAYMENT → PAID → ACCEPTED → SHIPPED → DELIVERED → COMPLETED.
// VIRTUAL and SERVICE: PENDING_PAYMENT → PAID → ACCEPTED → FULFILLED → COMPLETED.
// Any status before SHIPPED/FULFILLED may be CANCELLED (after payment, with a full refund).
// A PAID order the risk rules hold (internal/risk) waits in RISK_REVIEW, which only an
// admin's decision leaves (back to PAID, or CANCELLED), or a cancellation.
var transitions = map[Fulfilment]map[order.Status][]order.Status{
	PhysicalGoods: {
		order.StatusPENDING_PAYMENT: {order.StatusPAID, order.StatusCANCELLED},
		order.StatusPAID:            {order.StatusACCEPTED, order.StatusRISK_REVIEW, order.StatusCANCELLED},
		order.StatusRISK_REVIEW:     {order.StatusPAID, order.StatusCANCELLED},
		order.StatusACCEPTED:        {order.StatusSHIPPED, order.StatusCANCELLED},
		order.StatusSHIPPED:         {order.StatusDELIVERED},
		order.StatusDELIVERED:       {order.StatusCOMPLETED},
	},
	VirtualGoods: {
		order.StatusPENDING_PAYMENT: {order.StatusPAID, order.StatusCANCELLED},
		order.StatusPAID:            {order.StatusACCEPTED, order.StatusRISK_REVIEW, order.StatusCANCELLED},
		order.StatusRISK_REVIEW:     {order.StatusPAID, order.StatusCANCELLED},
		order.StatusACCEPTED:        {order.StatusFULFILLED, order.StatusCANCELLED},
		order.StatusFULFILLED:       {order.StatusCOMPLETED},
	},
}

func init() { transitions[ServiceGoods] = transitions[VirtualGoods] }

// CanMove reports whether an order of fulfilment f may go from one status to another.
func CanMove(f Fulfilment, from, to order.Status) bool {
	for _, s := range transitions[f][from] {
		if s == to {
			return true
		}
	}
	return false
}

// CheckMove returns INVALID_STATE naming the current status when the move is illegal.
func CheckMove(f Fulfilment, from, to order.Status) error {
	if CanMove(f, from, to) {
		return nil
	}
	return apperror.WrongState(string(from), "a %s order cannot move from %s to %s", f, from, to)
}

// Terminal reports whether an order can change no more.
func Terminal(s order.Status) bool {
	return s == order.StatusCOMPLETED || s == order.StatusCANCELLED
}

// StatusOrNil reads a status stored on the timeline, where "" means the event changed no
// status (TRACKING_UPDATED, REFUNDED, …): nil then, so the API says null, not "".
func StatusOrNil(s string) *order.Status {
	if s == "" {
		return nil
	}
	st := order.Status(s)
	return &st
}
