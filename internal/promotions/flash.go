package promotions

import (
	"context"
	"slices"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/flashsaleclaim"
	"github.com/xiadan/xiadan/ent/flashsaleitem"
	"github.com/xiadan/xiadan/ent/flashsaleuse"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/promotion"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// FlashData is the Data of a flash-sale price proposal: what Commit claims for its line.
type FlashData struct {
	// ItemID is the FlashSaleItem; Quantity the line's units at its price.
	ItemID, Quantity int
	// PerUserLimit is the promotion's per-user limit when quoted (0: none).
	PerUserLimit int
	// Price is the flash price quoted.
	Price int64
}

// FlashSale is the provider of flash-sale prices (秒杀/限时折扣), at pricing.StagePrice: a
// line of a variant on a running flash sale is offered the flash price — which wins only
// if it is lower than every other proposal (a member price) — when the whole line fits
// both what is left of the sale's cap and what is left of the customer's per-user limit.
// A line that does not fit is not split: it stays at its other prices (list or member),
// all of it, so the customer sees exactly which units are promotional (docs).
//
// Commit claims the stock and the allowance of the winning proposals with conditional
// UPDATEs in the checkout's transaction and records them per order; Release gives them
// back when the order is cancelled in full.
type FlashSale struct{ s *Service }

// FlashSale returns the flash-sale provider.
func (s *Service) FlashSale() *FlashSale { return &FlashSale{s: s} }

// Stage is pricing.StagePrice.
func (*FlashSale) Stage() pricing.Stage { return pricing.StagePrice }

// Quote proposes the flash prices of the basket's lines.
func (f *FlashSale) Quote(ctx context.Context, db *ent.Client, b *pricing.Basket) error {
	if len(b.Lines) == 0 {
		return nil
	}
	variants := make([]int, 0, len(b.Lines))
	for _, l := range b.Lines {
		variants = append(variants, l.VariantID)
	}
	sys := viewer.SystemContext(ctx)
	items, err := db.FlashSaleItem.Query().
		Where(flashsaleitem.VariantIDIn(variants...),
			flashsaleitem.HasPromotionWith(running(b.Now), promotion.Currency(b.Currency),
				promotion.KindEQ(promotion.KindFLASH_SALE))).
		WithPromotion().Order(ent.Asc(flashsaleitem.FieldID)).All(sys)
	if err != nil || len(items) == 0 {
		return err
	}
	claimed := map[int]int{} // item → units the customer holds already
	if b.UserID != 0 {
		ids := make([]int, len(items))
		for i, it := range items {
			ids[i] = it.ID
		}
		claims, err := db.FlashSaleClaim.Query().
			Where(flashsaleclaim.UserID(b.UserID), flashsaleclaim.ItemIDIn(ids...)).All(sys)
		if err != nil {
			return err
		}
		for _, c := range claims {
			claimed[c.ItemID] = c.Quantity
		}
	}
	aud := &pricing.Audiences{Checkers: f.s.Audiences, UserID: b.UserID}
	used := map[int]int{} // item → units proposed to earlier lines of this basket
	for _, l := range b.Lines {
		for _, it := range items {
			p := it.Edges.Promotion
			if it.VariantID != l.VariantID || p.MerchantID != l.MerchantID {
				continue
			}
			if ok, err := aud.In(ctx, db, p.Audiences); err != nil {
				return err
			} else if !ok {
				continue
			}
			q := l.Quantity
			if it.Sold+used[it.ID]+q > it.Cap {
				continue
			}
			if p.PerUserLimit > 0 && claimed[it.ID]+used[it.ID]+q > p.PerUserLimit {
				continue
			}
			b.ProposePrice(l.Index, it.Price, pricing.Adjustment{Kind: pricing.KindFlashSale,
				SourceID: p.ID, MerchantID: l.MerchantID, FundedBy: pricing.FundedByMerchant,
				Label: p.Label, Data: FlashData{ItemID: it.ID, Quantity: q, PerUserLimit: p.PerUserLimit, Price: it.Price}})
			// Counted whether or not the proposal wins: a later line of the same
			// variant is judged against the allowance as if it had.
			used[it.ID] += q
		}
	}
	return nil
}

// claim is what one order takes of one flash-sale item.
type claim struct {
	item, order, quantity, limit int
	price                        int64
}

// claims are the flash-sale claims of b's adjustments, by item id (the lock order).
func claims(b *pricing.Basket, orders map[int]int) []claim {
	byItem := map[[2]int]*claim{}
	var out []*claim
	for _, a := range b.Adjustments {
		d, ok := a.Data.(FlashData)
		if !ok || a.Kind != pricing.KindFlashSale {
			continue
		}
		key := [2]int{d.ItemID, orders[a.MerchantID]}
		c := byItem[key]
		if c == nil {
			c = &claim{item: d.ItemID, order: orders[a.MerchantID], limit: d.PerUserLimit, price: d.Price}
			byItem[key] = c
			out = append(out, c)
		}
		c.quantity += d.Quantity
	}
	slices.SortFunc(out, func(x, y *claim) int { return x.item - y.item })
	res := make([]claim, len(out))
	for i, c := range out {
		res[i] = *c
	}
	return res
}

// soldFits is sold + q <= cap.
func soldFits(q int) predicate.FlashSaleItem {
	return predicate.FlashSaleItem(func(s *sql.Selector) {
		s.Where(sql.ExprP(s.C(flashsaleitem.FieldSold)+" + ? <= "+s.C(flashsaleitem.FieldCap), q))
	})
}

// claimFits is quantity + q <= limit.
func claimFits(q, limit int) predicate.FlashSaleClaim {
	return predicate.FlashSaleClaim(func(s *sql.Selector) {
		s.Where(sql.ExprP(s.C(flashsaleclaim.FieldQuantity)+" + ? <= ?", q, limit))
	})
}

// Commit claims the flash-sale stock and per-user allowance of b's flash prices, item by
// item in id order, and records each order's claim for Release. A sold-out item is
// CONFLICT with reason FLASH_SALE_SOLD_OUT, a passed per-user limit CONFLICT with reason
// FLASH_SALE_LIMIT_REACHED; the checkout then rolls back.
func (f *FlashSale) Commit(ctx context.Context, db *ent.Client, b *pricing.Basket, orders map[int]int) error {
	cs := claims(b, orders)
	if len(cs) == 0 {
		return nil
	}
	sys := viewer.SystemContext(ctx)
	for _, c := range cs {
		// The quote read the promotion from this transaction's snapshot: hold it (shared,
		// so checkouts do not queue on each other) and make sure it still runs at the
		// quoted price and limit. A merchant pausing, editing or ending it takes the row
		// exclusively, so it waits for this checkout or this checkout for it.
		still, err := db.Promotion.Query().Where(running(b.Now), promotion.PerUserLimit(c.limit),
			promotion.HasFlashItemsWith(flashsaleitem.ID(c.item), flashsaleitem.Price(c.price)), hooks.ShareRows).Exist(sys)
		if err != nil {
			return err
		}
		if !still {
			return conflict(ReasonChanged, "the flash sale changed or ended since the price was shown; look at the cart again")
		}
		// The item's row lock queues every checkout of this item here until commit.
		n, err := db.FlashSaleItem.Update().Where(flashsaleitem.ID(c.item), soldFits(c.quantity)).
			AddSold(c.quantity).Save(sys)
		if err != nil {
			return err
		}
		if n == 0 {
			return conflict(ReasonSoldOut, "the flash sale has sold out: the price is no longer available")
		}
		if c.limit > 0 {
			if b.UserID == 0 {
				return conflict(ReasonLimitReached, "sign in to buy at the flash-sale price")
			}
			if err := db.FlashSaleClaim.Create().SetItemID(c.item).SetUserID(b.UserID).SetQuantity(0).
				OnConflictColumns(flashsaleclaim.FieldItemID, flashsaleclaim.FieldUserID).Ignore().Exec(sys); err != nil {
				return err
			}
			n, err := db.FlashSaleClaim.Update().
				Where(flashsaleclaim.ItemID(c.item), flashsaleclaim.UserID(b.UserID), claimFits(c.quantity, c.limit)).
				AddQuantity(c.quantity).Save(sys)
			if err != nil {
				return err
			}
			if n == 0 {
				return conflict(ReasonLimitReached, "you have bought as many as the flash sale allows (%d)", c.limit)
			}
		}
		if c.order != 0 {
			if err := db.FlashSaleUse.Create().SetOrderID(c.order).SetItemID(c.item).SetUserID(b.UserID).
				SetQuantity(c.quantity).Exec(sys); err != nil {
				return err
			}
		}
	}
	return nil
}

// Release gives back what order o took of flash sales — their stock and the customer's
// allowance — once: a use is marked released by a conditional UPDATE before anything is
// given back, so a second release (or a concurrent one) gives nothing.
func (f *FlashSale) Release(ctx context.Context, db *ent.Client, o *ent.Order) error {
	sys := viewer.SystemContext(ctx)
	uses, err := db.FlashSaleUse.Query().
		Where(flashsaleuse.OrderID(o.ID), flashsaleuse.ReleasedAtIsNil()).
		Order(ent.Asc(flashsaleuse.FieldItemID)).All(sys)
	if err != nil {
		return err
	}
	now := f.s.now()
	for _, u := range uses {
		n, err := db.FlashSaleUse.Update().Where(flashsaleuse.ID(u.ID), flashsaleuse.ReleasedAtIsNil()).
			SetReleasedAt(now).Save(sys)
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		if _, err := db.FlashSaleItem.Update().
			Where(flashsaleitem.ID(u.ItemID), flashsaleitem.SoldGTE(u.Quantity)).
			AddSold(-u.Quantity).Save(sys); err != nil {
			return err
		}
		if _, err := db.FlashSaleClaim.Update().
			Where(flashsaleclaim.ItemID(u.ItemID), flashsaleclaim.UserID(u.UserID), flashsaleclaim.QuantityGTE(u.Quantity)).
			AddQuantity(-u.Quantity).Save(sys); err != nil {
			return err
		}
	}
	return nil
}

func conflict(reason, format string, args ...any) error {
	e := apperror.New(apperror.Conflict, format, args...)
	e.Extensions = map[string]any{"reason": reason}
	return e
}
