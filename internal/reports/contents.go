package reports

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/commission"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderadjustment"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/money"
)

// The columns of each kind, as docs/REPORTS.md describes them.
var (
	ordersHeader = []string{"order_number", "merchant_id", "created_at", "paid_at", "status", "buyer", "items",
		"subtotal", "discounts", "shipping", "total", "refunded", "currency"}
	salesHeader = []string{"date", "merchant_id", "product_id", "product", "units", "gross", "discounts", "refunds",
		"net", "currency"}
	settlementsHeader = []string{"order_number", "merchant_id", "paid_at", "status", "goods", "shipping",
		"merchant_discounts", "platform_discounts", "buyer_paid", "refunded", "creator_commission",
		"commission_status", "merchant_net", "currency"}
)

func yuan(minor int64, currency string) string { return money.New(minor, currency).Amount() }

func stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.In(Shanghai).Format(time.DateTime)
}

// contents writes r's header and rows to sh and returns how many rows (without the
// header) it wrote.
func (s *Service) contents(ctx context.Context, db *ent.Client, r *ent.Report, sh sheet) (int, error) {
	switch r.Kind {
	case schematype.ReportSales:
		return s.sales(ctx, db, r, sh)
	case schematype.ReportSettlements:
		return s.settlements(ctx, db, r, sh)
	default:
		return s.orders(ctx, db, r, sh)
	}
}

// pages reads the orders of where a page at a time, in (created_at, id) order with their
// lines, and hands each page to fn: a period's orders are never all in memory. Each page
// starts after the last one's (created_at, id), which the (merchant_id, created_at) index
// serves without sorting the period's orders again for every page.
func (s *Service) pages(ctx context.Context, db *ent.Client, r *ent.Report, where []predicate.Order, fn func([]*ent.Order) error) error {
	if r.MerchantID != nil {
		where = append(where, order.MerchantID(*r.MerchantID))
	}
	var after *ent.Order
	for {
		q := db.Order.Query().Where(where...)
		if after != nil {
			q.Where(order.Or(order.CreatedAtGT(after.CreatedAt), order.And(order.CreatedAt(after.CreatedAt), order.IDGT(after.ID))))
		}
		page, err := q.Order(ent.Asc(order.FieldCreatedAt), ent.Asc(order.FieldID)).Limit(s.pageSize()).
			WithItems(func(q *ent.OrderItemQuery) { q.Order(ent.Asc(orderitem.FieldID)) }).All(ctx)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
		after = page[len(page)-1]
		if len(page) < s.pageSize() {
			return nil
		}
	}
}

// paidIn are the orders paid in r's period (created before its end, which the indexes
// help with).
func paidIn(r *ent.Report) []predicate.Order {
	return []predicate.Order{order.CreatedAtLT(r.PeriodEnd), order.PaidAtGTE(r.PeriodStart), order.PaidAtLT(r.PeriodEnd)}
}

// orders: one row per order created in the period. The buyer is a pseudonym numbered in
// the order of first appearance in this report (buyer-1, buyer-2, …): repeat buyers show
// within a report, nobody can be told across reports, and no name, phone or address is
// written.
func (s *Service) orders(ctx context.Context, db *ent.Client, r *ent.Report, sh sheet) (int, error) {
	if err := sh.Row(ordersHeader); err != nil {
		return 0, err
	}
	buyers := map[int]int{}
	n := 0
	err := s.pages(ctx, db, r, []predicate.Order{order.CreatedAtGTE(r.PeriodStart), order.CreatedAtLT(r.PeriodEnd)},
		func(page []*ent.Order) error {
			for _, o := range page {
				b, ok := buyers[o.CustomerID]
				if !ok {
					b = len(buyers) + 1
					buyers[o.CustomerID] = b
				}
				items := 0
				for _, it := range o.Edges.Items {
					items += it.Quantity
				}
				cur := o.Currency
				if err := sh.Row([]string{o.Number, strconv.Itoa(o.MerchantID), stamp(&o.CreatedAt), stamp(o.PaidAt),
					string(o.Status), "buyer-" + strconv.Itoa(b), strconv.Itoa(items), yuan(o.Subtotal, cur),
					yuan(o.Discount+o.ShippingDiscount, cur), yuan(o.ShippingFee, cur), yuan(o.Total, cur),
					yuan(o.RefundedAmount, cur), cur}); err != nil {
					return err
				}
				n++
			}
			return nil
		})
	return n, err
}

type saleKey struct {
	day        string
	merchantID int
	productID  int
	currency   string
}

type sale struct {
	title                     string
	units                     int
	gross, discounts, refunds int64
}

// sales: per day (of payment) and product, the paid orders' units, gross (lines at their
// prices), discounts on the lines, refunds (each order's refunded amount shared among its
// lines in proportion to their net, the last line taking the remainder) and net. The
// aggregate is one entry per day and product, not per order.
func (s *Service) sales(ctx context.Context, db *ent.Client, r *ent.Report, sh sheet) (int, error) {
	if err := sh.Row(salesHeader); err != nil {
		return 0, err
	}
	agg := map[saleKey]*sale{}
	err := s.pages(ctx, db, r, paidIn(r), func(page []*ent.Order) error {
		for _, o := range page {
			day := o.PaidAt.In(Shanghai).Format(time.DateOnly)
			var net int64
			for _, it := range o.Edges.Items {
				net += it.LineTotal - it.Discount
			}
			left := o.RefundedAmount
			for i, it := range o.Edges.Items {
				pid := 0
				if it.ProductID != nil {
					pid = *it.ProductID
				}
				k := saleKey{day: day, merchantID: o.MerchantID, productID: pid, currency: it.Currency}
				a := agg[k]
				if a == nil {
					a = &sale{title: it.Title}
					agg[k] = a
				}
				var refund int64
				switch {
				case i == len(o.Edges.Items)-1:
					refund = left
				case net > 0:
					refund = o.RefundedAmount * (it.LineTotal - it.Discount) / net
				}
				refund = min(refund, left)
				left -= refund
				a.units += it.Quantity
				a.gross += it.LineTotal
				a.discounts += it.Discount
				a.refunds += refund
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	keys := make([]saleKey, 0, len(agg))
	for k := range agg {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b saleKey) int {
		switch {
		case a.day != b.day:
			return compare(a.day, b.day)
		case a.merchantID != b.merchantID:
			return a.merchantID - b.merchantID
		case a.productID != b.productID:
			return a.productID - b.productID
		}
		return compare(a.currency, b.currency)
	})
	for _, k := range keys {
		a := agg[k]
		if err := sh.Row([]string{k.day, strconv.Itoa(k.merchantID), strconv.Itoa(k.productID), a.title,
			strconv.Itoa(a.units), yuan(a.gross, k.currency), yuan(a.discounts, k.currency), yuan(a.refunds, k.currency),
			yuan(a.gross-a.discounts-a.refunds, k.currency), k.currency}); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// settlements: one row per order paid in the period, with what the platform owes the
// merchant for it: what the buyer paid, plus the discounts the platform funded (order
// adjustments funded by PLATFORM, internal/pricing), less refunds and the creator
// commission still due (internal/creators: amount less what refunds reversed).
func (s *Service) settlements(ctx context.Context, db *ent.Client, r *ent.Report, sh sheet) (int, error) {
	if err := sh.Row(settlementsHeader); err != nil {
		return 0, err
	}
	n := 0
	err := s.pages(ctx, db, r, paidIn(r), func(page []*ent.Order) error {
		ids := make([]int, len(page))
		for i, o := range page {
			ids[i] = o.ID
		}
		adjs, err := db.OrderAdjustment.Query().Where(orderadjustment.OrderIDIn(ids...)).All(ctx)
		if err != nil {
			return err
		}
		funded := map[int][2]int64{} // order → merchant, platform
		for _, a := range adjs {
			f := funded[a.OrderID]
			if a.FundedBy == orderadjustment.FundedByPLATFORM {
				f[1] += a.Amount + a.ShippingAmount
			} else {
				f[0] += a.Amount + a.ShippingAmount
			}
			funded[a.OrderID] = f
		}
		cms, err := db.Commission.Query().Where(commission.OrderIDIn(ids...)).All(ctx)
		if err != nil {
			return err
		}
		byOrder := map[int]*ent.Commission{}
		for _, c := range cms {
			byOrder[c.OrderID] = c
		}
		for _, o := range page {
			cur := o.Currency
			f := funded[o.ID]
			var due int64
			status := ""
			if c := byOrder[o.ID]; c != nil {
				due, status = c.Amount-c.Reversed, string(c.Status)
			}
			netto := o.Total + f[1] - o.RefundedAmount - due
			if err := sh.Row([]string{o.Number, strconv.Itoa(o.MerchantID), stamp(o.PaidAt), string(o.Status),
				yuan(o.Subtotal, cur), yuan(o.ShippingFee, cur), yuan(f[0], cur), yuan(f[1], cur), yuan(o.Total, cur),
				yuan(o.RefundedAmount, cur), yuan(due, cur), status, yuan(netto, cur), cur}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
