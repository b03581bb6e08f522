package payments

import (
	"context"

	"github.com/xiadan/xiadan/ent"
	entpayment "github.com/xiadan/xiadan/ent/payment"
	"github.com/xiadan/xiadan/internal/loader"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Shown is a payment's money as the viewer may see it.
type Shown struct {
	Amount, Refunded money.Money
	Status           entpayment.Status
	// Instructions are nil but for the payer and admins: they lead to the provider's pay
	// page, whose subject names every order of the checkout.
	Instructions map[string]any
}

// Show returns what the viewer may see of payment p's money. One payment pays every order
// of a checkout, which may be several merchants' orders; its payer and admins see it
// whole, while a merchant's staff or partner client sees the payment as if it paid only
// that merchant's orders: the sum of their totals, the refunds of those orders, a status
// that follows them (REFUNDED when its share is refunded in full), and no instructions.
// Another merchant's amounts and order numbers never show.
func Show(ctx context.Context, p *ent.Payment) (Shown, error) {
	v := viewer.FromContext(ctx)
	if v.System || v.IsAdmin() || (v.UserID != 0 && v.UserID == p.CustomerID) {
		return Shown{
			Amount:       *money.New(p.Amount, p.Currency),
			Refunded:     *money.New(p.RefundedAmount, p.Currency),
			Status:       p.Status,
			Instructions: p.Instructions,
		}, nil
	}
	share, err := loader.For(ctx).PaymentShare(ctx, p)
	if err != nil {
		return Shown{}, err
	}
	st := p.Status
	switch st {
	case entpayment.StatusSUCCEEDED, entpayment.StatusPARTIALLY_REFUNDED, entpayment.StatusREFUNDED:
		switch {
		case share.Refunded <= 0:
			st = entpayment.StatusSUCCEEDED
		case share.Refunded >= share.Orders:
			st = entpayment.StatusREFUNDED
		default:
			st = entpayment.StatusPARTIALLY_REFUNDED
		}
	}
	return Shown{
		Amount:   *money.New(share.Orders, p.Currency),
		Refunded: *money.New(share.Refunded, p.Currency),
		Status:   st,
	}, nil
}
