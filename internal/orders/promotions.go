package orders

import (
	"context"
	"slices"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderadjustment"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/internal/cart"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/pricing"
)

// Promotions at checkout (internal/pricing): Place quotes the providers over the lines it
// priced, keeps each order's share of every adjustment as OrderAdjustment rows and each
// line's share as OrderItem.discount, and lets the providers Commit what they used. The
// cart quotes the same providers with Quote, so what the cart shows is what placeOrder
// charges.

// Quote builds the basket of groups (one per merchant, lines in checkout order; each line's
// basket index is stored on it) and runs the promotion providers over it.
func (s *Service) quote(ctx context.Context, db *ent.Client, userID int, currency string, groups []*group, choice pricing.Choice) (*pricing.Basket, error) {
	var lines []*pricing.Line
	shipping := map[int]int64{}
	for _, g := range groups {
		for _, l := range g.lines {
			l.index = len(lines)
			lines = append(lines, pricing.LineOf(l.variant, l.variant.Edges.Product, g.merchant.ID, l.quantity))
		}
		shipping[g.merchant.ID] = g.shipping
	}
	b := pricing.NewBasket(userID, currency, s.now(), lines, shipping)
	b.Choice = choice
	if len(s.Promotions) == 0 {
		return b, nil
	}
	if err := pricing.Run(ctx, db, b, s.Promotions); err != nil {
		return nil, err
	}
	return b, nil
}

// adjustmentRows returns the OrderAdjustment rows of the placed orders: each adjustment's
// share of each order (goods on its lines, shipping on its merchant), with the goods
// allocation per order item. itemIDs maps basket line index → order item id.
func adjustmentRows(db *ent.Client, b *pricing.Basket, placed map[int]*ent.Order, itemIDs []int) []*ent.OrderAdjustmentCreate {
	var rows []*ent.OrderAdjustmentCreate
	for _, a := range b.Adjustments {
		for _, m := range b.Merchants() {
			o := placed[m]
			var amount int64
			alloc := map[int]int64{}
			for i, amt := range a.Lines {
				if b.Lines[i].MerchantID == m && amt > 0 {
					amount += amt
					alloc[itemIDs[i]] = amt
				}
			}
			ship := a.Shipping[m]
			if amount == 0 && ship == 0 {
				continue
			}
			funded := orderadjustment.FundedByPLATFORM
			if a.FundedBy == pricing.FundedByMerchant {
				funded = orderadjustment.FundedByMERCHANT
			}
			rows = append(rows, db.OrderAdjustment.Create().
				SetOrderID(o.ID).
				SetStage(int(a.Stage)).
				SetKind(string(a.Kind)).
				SetSourceID(a.SourceID).
				SetLabel(truncateRunes(a.Label, 200)).
				SetAmount(amount).
				SetShippingAmount(ship).
				SetFundedBy(funded).
				SetCurrency(b.Currency).
				SetLines(alloc))
		}
	}
	return rows
}

// Adjustments returns the promotions applied to order o, in the order they applied.
// Callers have read o as the viewer.
func Adjustments(ctx context.Context, db *ent.Client, o *ent.Order) ([]*ent.OrderAdjustment, error) {
	if o.Discount == 0 && o.ShippingDiscount == 0 {
		return []*ent.OrderAdjustment{}, nil
	}
	return db.OrderAdjustment.Query().
		Where(orderadjustment.OrderID(o.ID)).
		Order(orderadjustment.ByStage(), orderadjustment.ByID()).
		All(system(ctx))
}

// releasePromotions gives back what a fully cancelled order used, through every provider
// that is a pricing.Releaser, in the cancellation's transaction.
func (s *Service) releasePromotions(ctx context.Context, db *ent.Client, o *ent.Order) error {
	for _, p := range s.Promotions {
		if r, ok := p.(pricing.Releaser); ok {
			if err := r.Release(ctx, db, o); err != nil {
				return err
			}
		}
	}
	return nil
}

// Refunded tells every provider that is a pricing.RefundObserver that amount of order o's
// goods was refunded, in the refund's transaction. The payment service calls it.
func (s *Service) Refunded(ctx context.Context, db *ent.Client, o *ent.Order, amount int64) error {
	for _, p := range s.Promotions {
		if r, ok := p.(pricing.RefundObserver); ok {
			if err := r.Refunded(ctx, db, o, amount); err != nil {
				return err
			}
		}
	}
	return nil
}

// NetWorth is what an order item is worth after its share of the order's discounts: the
// most that refunding it can give back (shipping apart).
func NetWorth(it *ent.OrderItem) int64 { return max(it.LineTotal-it.Discount, 0) }

// CheckoutOrders returns the orders of checkout id, for providers deciding whether
// everything a promotion was spread over has been cancelled.
func CheckoutOrders(ctx context.Context, db *ent.Client, checkoutID string) ([]*ent.Order, error) {
	return db.Order.Query().Where(order.CheckoutID(checkoutID)).Order(order.ByID()).All(system(ctx))
}

var _ = orderitem.FieldDiscount

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(slices.Clone(r[:n]))
}

// AdjustmentViews returns the promotions applied to order o as the API shows them.
// Callers have read o as the viewer.
func AdjustmentViews(ctx context.Context, db *ent.Client, o *ent.Order) ([]*cart.AdjustmentView, error) {
	as, err := Adjustments(ctx, db, o)
	if err != nil {
		return nil, err
	}
	out := make([]*cart.AdjustmentView, len(as))
	for i, a := range as {
		out[i] = &cart.AdjustmentView{Kind: pricing.Kind(a.Kind), Label: a.Label, FundedBy: pricing.Funder(a.FundedBy),
			SourceID: a.SourceID, Amount: money.Money{Minor: a.Amount, Currency: a.Currency},
			ShippingDiscount: money.Money{Minor: a.ShippingAmount, Currency: a.Currency}}
	}
	return out, nil
}

// QuoteCart reads userID's cart priced with the promotions for the given choice, as
// placeOrder would price the same lines (couponIDs nil: the best coupons; empty: none).
func (s *Service) QuoteCart(ctx context.Context, db *ent.Client, userID int, couponIDs []int, useRedPackets *bool, attributionCode *string) (*cart.Cart, error) {
	in := PlaceInput{CouponIDs: couponIDs, UseRedPackets: useRedPackets, AttributionCode: attributionCode}
	return cart.LoadQuoted(ctx, db, userID, s.Promotions, in.choice(), s.now())
}
