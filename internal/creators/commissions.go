package creators

import (
	"context"
	"math/big"
	"strconv"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/commission"
	"github.com/xiadan/xiadan/ent/commissionrule"
	"github.com/xiadan/xiadan/ent/creator"
	"github.com/xiadan/xiadan/ent/creatorclick"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Commissions is the pricing.Provider (StageRecord) that turns attributed orders into
// commissions, and the pricing.RefundObserver and pricing.Releaser that reverse them.
//
//   - Quote checks Choice.AttributionCode, if any (BAD_USER_INPUT on attributionCode when
//     it is no approved creator's code); it changes no price.
//   - Commit records the checkout's code as a click at the basket's time (so it is the
//     last click), then for each order whose merchant has an active rule credits the
//     latest click that applies to that merchant (a general code, or one for it) within
//     the rule's window, unless the creator is the buyer. Base is the merchant's goods
//     after discounts, without shipping; amount = ⌊Σ net_line × bps_line / 10000⌋ with
//     the line's category rate or the merchant's. One commission per order (unique
//     order_id).
//   - Refunded reverses in proportion to the goods refunded so far:
//     reversed = ⌊amount × min(refunded, base) / base⌋, all of it once refunded ≥ base.
//     The cumulative form means partial refunds never drift from a single refund of their
//     sum, and the amount never goes below zero.
//   - Release (full cancellation) reverses all of it.
//
// Reversals read the commission with a locking read (MySQL) and write conditionally on the
// refunded base read, so concurrent refunds of one order add up exactly.
//
// Statements at placeOrder: one read when the buyer has no click in the last 90 days and
// gave no code; otherwise up to three reads and one insert (plus one for a checkout code).
type Commissions struct{ s *Service }

var (
	_ pricing.Provider       = (*Commissions)(nil)
	_ pricing.Releaser       = (*Commissions)(nil)
	_ pricing.RefundObserver = (*Commissions)(nil)
)

// Provider returns the commissions provider to pass to pricing.Run and pricing.Commit.
func (s *Service) Provider() *Commissions { return &Commissions{s: s} }

// Stage is StageRecord: commissions change no price.
func (*Commissions) Stage() pricing.Stage { return pricing.StageRecord }

// Quote checks the checkout's attribution code.
func (c *Commissions) Quote(ctx context.Context, db *ent.Client, b *pricing.Basket) error {
	if b.Choice.AttributionCode == "" {
		return nil
	}
	if _, _, err := activeLink(viewer.SystemContext(ctx), db, b.Choice.AttributionCode); err != nil {
		if apperror.CodeOf(err) == apperror.NotFound {
			return apperror.BadInput("attributionCode", "is no creator's code")
		}
		return err
	}
	return nil
}

// Commit creates the checkout's commissions, in db's transaction.
func (c *Commissions) Commit(ctx context.Context, db *ent.Client, b *pricing.Basket, orders map[int]int) error {
	if b.UserID == 0 || len(orders) == 0 {
		return nil
	}
	sys := viewer.SystemContext(ctx)
	now := b.Now.UTC().Truncate(time.Microsecond)
	if code := b.Choice.AttributionCode; code != "" {
		l, cr, err := activeLink(sys, db, code)
		if err != nil {
			if apperror.CodeOf(err) == apperror.NotFound {
				return apperror.BadInput("attributionCode", "is no creator's code")
			}
			return err
		}
		if cr.UserID != b.UserID {
			if err := db.CreatorClick.Create().SetUserID(b.UserID).SetCreatorID(cr.ID).SetLinkID(l.ID).
				SetNillableMerchantID(l.MerchantID).SetClickedAt(now).Exec(sys); err != nil {
				return err
			}
		}
	}
	clicks, err := db.CreatorClick.Query().
		Where(creatorclick.UserID(b.UserID), creatorclick.ClickedAtLTE(now), creatorclick.ClickedAtGT(now.Add(-MaxWindow))).
		Order(ent.Desc(creatorclick.FieldClickedAt), ent.Desc(creatorclick.FieldID)).Limit(50).All(sys)
	if err != nil || len(clicks) == 0 {
		return err
	}
	merchants := make([]int, 0, len(orders))
	for m := range orders {
		merchants = append(merchants, m)
	}
	rules, err := db.CommissionRule.Query().
		Where(commissionrule.MerchantIDIn(merchants...), commissionrule.Active(true)).All(sys)
	if err != nil || len(rules) == 0 {
		return err
	}
	creatorIDs := map[int]bool{}
	for _, cl := range clicks {
		creatorIDs[cl.CreatorID] = true
	}
	ids := make([]int, 0, len(creatorIDs))
	for id := range creatorIDs {
		ids = append(ids, id)
	}
	// Shared locks: an admin suspending one of them now waits for this checkout, or this
	// checkout sees the suspension (a plain read would answer from the snapshot).
	creators, err := db.Creator.Query().Where(creator.IDIn(ids...), creator.StatusEQ(creator.StatusAPPROVED), hooks.ShareRows).All(sys)
	if err != nil {
		return err
	}
	approved := map[int]*ent.Creator{}
	for _, cr := range creators {
		if cr.UserID != b.UserID {
			approved[cr.ID] = cr
		}
	}
	var bulk []*ent.CommissionCreate
	for _, r := range rules {
		orderID := orders[r.MerchantID]
		window := c.s.Config.Window
		if r.WindowDays > 0 {
			window = time.Duration(r.WindowDays) * 24 * time.Hour
		}
		var win *ent.CreatorClick
		for _, cl := range clicks {
			if approved[cl.CreatorID] == nil || (cl.MerchantID != nil && *cl.MerchantID != r.MerchantID) {
				continue
			}
			if cl.ClickedAt.After(now.Add(-window)) {
				win = cl
			}
			break // the latest applicable click decides, in its window or not
		}
		if win == nil {
			continue
		}
		base, amount := Amount(b, r)
		if amount <= 0 {
			continue
		}
		bulk = append(bulk, db.Commission.Create().SetCreatorID(win.CreatorID).
			SetCreatorUserID(approved[win.CreatorID].UserID).SetLinkID(win.LinkID).SetMerchantID(r.MerchantID).
			SetOrderID(orderID).SetCurrency(b.Currency).SetBase(base).SetAmount(amount).
			SetCreatedAt(now).SetUpdatedAt(now))
	}
	if len(bulk) == 0 {
		return nil
	}
	if err := db.Commission.CreateBulk(bulk...).Exec(sys); err != nil {
		if ent.IsConstraintError(err) {
			return &apperror.Error{Code: apperror.Conflict, Message: "the order's commission is recorded already",
				Extensions: map[string]any{"reason": "COMMISSION_RECORDED"}, Err: err}
		}
		return err
	}
	return nil
}

// Amount returns merchant r's base (goods after discounts, no shipping) in basket b and
// the commission on it: ⌊Σ net × bps / 10000⌋ over its lines, each at its category's
// rate or the merchant's.
func Amount(b *pricing.Basket, r *ent.CommissionRule) (base, amount int64) {
	sum := new(big.Int)
	for _, i := range b.LinesOf(r.MerchantID) {
		l := b.Lines[i]
		net := l.Net()
		if net <= 0 {
			continue
		}
		bps := r.RateBps
		if cr, ok := r.CategoryRates[strconv.Itoa(l.CategoryID)]; ok && l.CategoryID != 0 {
			bps = cr
		}
		base += net
		sum.Add(sum, new(big.Int).Mul(big.NewInt(net), big.NewInt(int64(bps))))
	}
	return base, sum.Quo(sum, big.NewInt(10000)).Int64()
}

// reversedFor is the commission reversed once refunded of base has been refunded.
func reversedFor(amount, base, refunded int64) int64 {
	if base <= 0 || refunded >= base {
		return amount
	}
	p := new(big.Int).Mul(big.NewInt(amount), big.NewInt(refunded))
	return p.Quo(p, big.NewInt(base)).Int64()
}

// lockedCommission reads order's commission with a locking read; nil when none.
func lockedCommission(ctx context.Context, db *ent.Client, orderID int) (*ent.Commission, error) {
	cm, err := db.Commission.Query().Where(commission.OrderID(orderID), hooks.LockRows).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return cm, err
}

// Refunded reverses order o's commission in proportion to amount, this refund's goods
// amount, in db's transaction.
func (c *Commissions) Refunded(ctx context.Context, db *ent.Client, o *ent.Order, amount int64) error {
	if amount <= 0 {
		return nil
	}
	sys := viewer.SystemContext(ctx)
	for attempt := 0; attempt < 5; attempt++ {
		cm, err := lockedCommission(sys, db, o.ID)
		if err != nil || cm == nil || cm.Status == commission.StatusREVERSED {
			return err
		}
		refunded := min(cm.Base, cm.RefundedBase+amount)
		reversed := reversedFor(cm.Amount, cm.Base, refunded)
		up := db.Commission.Update().
			Where(commission.ID(cm.ID), commission.RefundedBase(cm.RefundedBase), commission.StatusNEQ(commission.StatusREVERSED)).
			SetRefundedBase(refunded).SetReversed(reversed)
		if reversed >= cm.Amount {
			up.SetStatus(commission.StatusREVERSED)
		}
		n, err := up.Save(sys)
		if err != nil || n == 1 {
			return err
		}
	}
	return &apperror.Error{Code: apperror.Conflict, Message: "the order's commission changed meanwhile; try again",
		Extensions: map[string]any{"reason": "CONCURRENT_REFUND"}}
}

// Release reverses all of cancelled order o's commission, in db's transaction; exactly
// once, by a conditional update on the status.
func (c *Commissions) Release(ctx context.Context, db *ent.Client, o *ent.Order) error {
	sys := viewer.SystemContext(ctx)
	cm, err := lockedCommission(sys, db, o.ID)
	if err != nil || cm == nil || cm.Status == commission.StatusREVERSED {
		return err
	}
	return db.Commission.Update().
		Where(commission.ID(cm.ID), commission.StatusNEQ(commission.StatusREVERSED)).
		SetRefundedBase(cm.Base).SetReversed(cm.Amount).SetStatus(commission.StatusREVERSED).Exec(sys)
}
