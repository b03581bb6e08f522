package creators

import (
	"context"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/commission"
	"github.com/xiadan/xiadan/ent/creator"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/viewer"
)

// CommissionView is one commission. What it shows depends on who asks: a creator sees the
// merchant and the figures, never the order or the buyer; the merchant and admins also
// see the order number and the creator.
type CommissionView struct {
	ID           int
	MerchantID   int
	MerchantName string
	// OrderNumber and CreatorName are nil for the creator's own view.
	OrderNumber *string
	CreatorName *string
	Status      commission.Status
	Base        *money.Money
	Amount      *money.Money
	Reversed    *money.Money
	// Net is Amount − Reversed.
	Net         *money.Money
	CreatedAt   time.Time
	SettlableAt *time.Time
}

// Totals sums commissions by state: Pending and Settlable are what is left of them after
// reversals; Reversed is every reversal.
type Totals struct {
	Pending, Settlable, Reversed *money.Money
	Count                        int
}

// Earnings is a creator's view of their commissions.
type Earnings struct {
	Totals
	Commissions []*CommissionView
}

// Currency is the currency earnings are summed in: the platform sells in CNY (a creator
// with orders in several currencies would need per-currency totals).
const Currency = "CNY"

func totalsOf(cs []*ent.Commission) Totals {
	var pending, settlable, reversed int64
	for _, c := range cs {
		reversed += c.Reversed
		switch c.Status {
		case commission.StatusPENDING:
			pending += c.Amount - c.Reversed
		case commission.StatusSETTLABLE:
			settlable += c.Amount - c.Reversed
		}
	}
	return Totals{Pending: money.New(pending, Currency), Settlable: money.New(settlable, Currency),
		Reversed: money.New(reversed, Currency), Count: len(cs)}
}

// listLimit bounds the per-order lists.
const listLimit = 200

func (s *Service) views(ctx context.Context, db *ent.Client, cs []*ent.Commission, full bool) ([]*CommissionView, error) {
	sys := viewer.SystemContext(ctx)
	mids, oids, cids := []int{}, []int{}, []int{}
	for _, c := range cs {
		mids, oids, cids = append(mids, c.MerchantID), append(oids, c.OrderID), append(cids, c.CreatorID)
	}
	names := map[int]string{}
	ms, err := db.Merchant.Query().Where(merchant.IDIn(mids...)).Select(merchant.FieldID, merchant.FieldName).All(sys)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		names[m.ID] = m.Name
	}
	numbers, creators := map[int]string{}, map[int]string{}
	if full && len(cs) > 0 {
		os, err := db.Order.Query().Where(order.IDIn(oids...)).Select(order.FieldID, order.FieldNumber).All(sys)
		if err != nil {
			return nil, err
		}
		for _, o := range os {
			numbers[o.ID] = o.Number
		}
		crs, err := db.Creator.Query().Where(creator.IDIn(cids...)).All(sys)
		if err != nil {
			return nil, err
		}
		for _, c := range crs {
			creators[c.ID] = c.DisplayName
		}
	}
	out := make([]*CommissionView, 0, len(cs))
	for _, c := range cs {
		v := &CommissionView{ID: c.ID, MerchantID: c.MerchantID, MerchantName: names[c.MerchantID], Status: c.Status,
			Base: money.New(c.Base, c.Currency), Amount: money.New(c.Amount, c.Currency),
			Reversed: money.New(c.Reversed, c.Currency), Net: money.New(c.Amount-c.Reversed, c.Currency),
			CreatedAt: c.CreatedAt, SettlableAt: c.SettlableAt}
		if full {
			n, cn := numbers[c.OrderID], creators[c.CreatorID]
			v.OrderNumber, v.CreatorName = &n, &cn
		}
		out = append(out, v)
	}
	return out, nil
}

// MyEarnings is the viewer's commissions as a creator: totals over all of them and the
// latest 200, without the orders or who placed them. NOT_FOUND when they are no creator.
func (s *Service) MyEarnings(ctx context.Context, db *ent.Client) (*Earnings, error) {
	v, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	// Read as the viewer: the privacy rule keeps to the creator's own commissions.
	c, err := db.Creator.Query().Where(creator.UserID(v.UserID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("you are not a creator")
	}
	if err != nil {
		return nil, err
	}
	cs, err := db.Commission.Query().Where(commission.CreatorID(c.ID)).
		Order(ent.Desc(commission.FieldCreatedAt), ent.Desc(commission.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	e := &Earnings{Totals: totalsOf(cs)}
	e.Commissions, err = s.views(ctx, db, cs[:min(len(cs), listLimit)], false)
	return e, err
}

// MerchantCommissions is the commissions on merchant's orders, for its members and admins
// (others get NOT_FOUND): totals and the latest 200, with order numbers and creators.
func (s *Service) MerchantCommissions(ctx context.Context, db *ent.Client, merchantID int) (*Earnings, error) {
	v, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if !v.IsAdmin() && !v.IsMerchantMember(merchantID) {
		return nil, apperror.NotFoundf("no such merchant")
	}
	cs, err := db.Commission.Query().Where(commission.MerchantID(merchantID)).
		Order(ent.Desc(commission.FieldCreatedAt), ent.Desc(commission.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	e := &Earnings{Totals: totalsOf(cs)}
	e.Commissions, err = s.views(ctx, db, cs[:min(len(cs), listLimit)], true)
	return e, err
}

// CreatorTotals is one creator's line of the admin overview.
type CreatorTotals struct {
	Creator *CreatorView
	Totals
}

// Overview is every creator with their totals, for admins.
func (s *Service) Overview(ctx context.Context, db *ent.Client) ([]*CreatorTotals, error) {
	creators, err := s.List(ctx, db, nil)
	if err != nil {
		return nil, err
	}
	cs, err := db.Commission.Query().All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	by := map[int][]*ent.Commission{}
	for _, c := range cs {
		by[c.CreatorID] = append(by[c.CreatorID], c)
	}
	out := make([]*CreatorTotals, len(creators))
	for i, c := range creators {
		out[i] = &CreatorTotals{Creator: c, Totals: totalsOf(by[c.ID])}
	}
	return out, nil
}
