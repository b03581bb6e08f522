package orders

import (
	"testing"

	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/internal/apperror"
)

func TestStateMachine(t *testing.T) {
	t.Parallel()
	statuses := []order.Status{order.StatusPENDING_PAYMENT, order.StatusPAID, order.StatusRISK_REVIEW, order.StatusACCEPTED,
		order.StatusSHIPPED, order.StatusDELIVERED, order.StatusFULFILLED, order.StatusCOMPLETED, order.StatusCANCELLED}
	legal := map[Fulfilment]map[[2]order.Status]bool{
		PhysicalGoods: {
			{"PENDING_PAYMENT", "PAID"}: true, {"PENDING_PAYMENT", "CANCELLED"}: true,
			{"PAID", "ACCEPTED"}: true, {"PAID", "CANCELLED"}: true, {"PAID", "RISK_REVIEW"}: true,
			{"RISK_REVIEW", "PAID"}: true, {"RISK_REVIEW", "CANCELLED"}: true,
			{"ACCEPTED", "SHIPPED"}: true, {"ACCEPTED", "CANCELLED"}: true,
			{"SHIPPED", "DELIVERED"}: true, {"DELIVERED", "COMPLETED"}: true,
		},
		VirtualGoods: {
			{"PENDING_PAYMENT", "PAID"}: true, {"PENDING_PAYMENT", "CANCELLED"}: true,
			{"PAID", "ACCEPTED"}: true, {"PAID", "CANCELLED"}: true, {"PAID", "RISK_REVIEW"}: true,
			{"RISK_REVIEW", "PAID"}: true, {"RISK_REVIEW", "CANCELLED"}: true,
			{"ACCEPTED", "FULFILLED"}: true, {"ACCEPTED", "CANCELLED"}: true,
			{"FULFILLED", "COMPLETED"}: true,
		},
	}
	legal[ServiceGoods] = legal[VirtualGoods]
	for f, ok := range legal {
		for _, from := range statuses {
			for _, to := range statuses {
				want := ok[[2]order.Status{from, to}]
				if got := CanMove(f, from, to); got != want {
					t.Errorf("%s %s→%s: %v, want %v", f, from, to, got, want)
				}
				if err := CheckMove(f, from, to); (err == nil) != want {
					t.Errorf("%s %s→%s: CheckMove %v", f, from, to, err)
				} else if err != nil && apperror.CodeOf(err) != apperror.InvalidState {
					t.Errorf("%s %s→%s: code %s", f, from, to, apperror.CodeOf(err))
				}
			}
		}
	}
}
