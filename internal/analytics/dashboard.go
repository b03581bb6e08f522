package analytics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/analyticsproductday"
	"github.com/xiadan/xiadan/ent/analyticssalesday"
	"github.com/xiadan/xiadan/ent/analyticstrafficday"
	"github.com/xiadan/xiadan/ent/category"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Granularity is the length of a dashboard series' periods.
type Granularity string

// Granularities.
const (
	Day   Granularity = "DAY"
	Week  Granularity = "WEEK"
	Month Granularity = "MONTH"
)

// MarshalGQL writes the granularity as a GraphQL enum value.
func (g Granularity) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(g))) }

// UnmarshalGQL reads a GraphQL enum value.
func (g *Granularity) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	switch Granularity(s) {
	case Day, Week, Month:
		*g = Granularity(s)
		return nil
	}
	return fmt.Errorf("%v is not a valid AnalyticsGranularity", v)
}

// Period is the sales of one period (GraphQL AnalyticsPeriod).
type Period struct {
	Start             string       `json:"start"`
	Orders            int          `json:"orders"`
	PaidOrders        int          `json:"paidOrders"`
	Sales             *money.Money `json:"sales"`
	AverageOrderValue *money.Money `json:"averageOrderValue"`
	Refunds           *money.Money `json:"refunds"`
	RefundedOrders    int          `json:"refundedOrders"`
	CancelledOrders   int          `json:"cancelledOrders"`
	Units             int          `json:"units"`
}

// TopProduct is a best seller (GraphQL AnalyticsTopProduct).
type TopProduct struct {
	Product    *ent.Product `json:"product"`
	ProductID  int          `json:"productID"`
	PaidOrders int          `json:"paidOrders"`
	Units      int          `json:"units"`
	Sales      *money.Money `json:"sales"`
}

// CategorySales is a category's sales (GraphQL AnalyticsCategory).
type CategorySales struct {
	Category   *ent.Category `json:"category"`
	CategoryID int           `json:"categoryID"`
	PaidOrders int           `json:"paidOrders"`
	Units      int           `json:"units"`
	Sales      *money.Money  `json:"sales"`
}

// Funnel is view → cart → checkout → order → paid (GraphQL AnalyticsFunnel).
type Funnel struct {
	Views      int `json:"views"`
	AddsToCart int `json:"addsToCart"`
	Checkouts  int `json:"checkouts"`
	Orders     int `json:"orders"`
	PaidOrders int `json:"paidOrders"`
}

// ChannelTraffic is one channel's traffic and sales (GraphQL AnalyticsChannel).
type ChannelTraffic struct {
	Channel    Channel      `json:"channel"`
	Views      int          `json:"views"`
	AddsToCart int          `json:"addsToCart"`
	Checkouts  int          `json:"checkouts"`
	Orders     int          `json:"orders"`
	PaidOrders int          `json:"paidOrders"`
	Sales      *money.Money `json:"sales"`
}

// PaymentFailure is one failed payment attempt (GraphQL AnalyticsPaymentFailure).
type PaymentFailure struct {
	OrderNumber string    `json:"orderNumber"`
	At          time.Time `json:"at"`
	Reason      string    `json:"reason"`
}

// PaymentFailures counts failed payments (GraphQL AnalyticsPaymentFailures).
type PaymentFailures struct {
	Count  int               `json:"count"`
	Recent []*PaymentFailure `json:"recent"`
}

// Dashboard is one dashboard query; each field is computed when GraphQL asks for it.
type Dashboard struct {
	From        string      `json:"from"`
	To          string      `json:"to"`
	Granularity Granularity `json:"granularity"`
	TimeZone    string      `json:"timeZone"`
	Currency    string      `json:"currency"`

	s                  *Service
	merchant, category int // 0: all
	first, last        int // days, yyyymmdd
	salesOnce          sync.Once
	sales              []salesAgg
	salesErr           error
	trafficOnce        sync.Once
	traffic            []trafficAgg
	trafficErr         error
}

// salesAgg is the sum of the sales rollup rows of one day and channel.
type salesAgg struct {
	Day             int    `json:"day"`
	Channel         string `json:"channel"`
	Orders          int64  `json:"orders"`
	PaidOrders      int64  `json:"paid_orders"`
	PaidAmount      int64  `json:"paid_amount"`
	RefundedAmount  int64  `json:"refunded_amount"`
	RefundedOrders  int64  `json:"refunded_orders"`
	CancelledOrders int64  `json:"cancelled_orders"`
	Units           int64  `json:"units"`
	PaymentFailures int64  `json:"payment_failures"`
}

type trafficAgg struct {
	Channel   string `json:"channel"`
	Views     int64  `json:"views"`
	Carts     int64  `json:"carts"`
	Checkouts int64  `json:"checkouts"`
}

// MerchantAnalytics is a merchant's dashboard. Staff read their own merchant's
// (merchantID nil or theirs); admins name one; any other merchant is NOT_FOUND.
func (s *Service) MerchantAnalytics(ctx context.Context, merchantID *int, from, to string, g *Granularity) (*Dashboard, error) {
	v := viewer.FromContext(ctx)
	mid := 0
	switch {
	case merchantID == nil && v.IsMerchantMember(v.MerchantID):
		mid = v.MerchantID
	case merchantID == nil && v.IsAdmin():
		return nil, apperror.BadInput("merchantID", "is required for admins")
	case merchantID == nil:
		return nil, apperror.New(apperror.Forbidden, "only merchant staff and admins read merchant analytics")
	case v.IsAdmin() || (v.IsMerchantMember(v.MerchantID) && *merchantID == v.MerchantID):
		mid = *merchantID
	default:
		return nil, apperror.NotFoundf("merchant not found")
	}
	m, err := s.db.Merchant.Query().Where(merchant.ID(mid)).Select(merchant.FieldCurrency).Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("merchant not found")
	}
	if err != nil {
		return nil, err
	}
	d, err := s.dashboard(from, to, g, m.Currency)
	if err != nil {
		return nil, err
	}
	d.merchant = mid
	return d, nil
}

// PlatformAnalytics is the platform's dashboard (admins): every merchant selling in
// currency, or one merchant, or the products of one category.
func (s *Service) PlatformAnalytics(ctx context.Context, from, to string, g *Granularity, merchantID, categoryID *int, currency *string) (*Dashboard, error) {
	if !viewer.FromContext(ctx).IsAdmin() {
		return nil, apperror.New(apperror.Forbidden, "only admins read platform analytics")
	}
	cur := "CNY"
	if currency != nil {
		c, ok := money.Normalize(*currency)
		if !ok {
			return nil, apperror.BadInput("currency", "must be an ISO 4217 currency code")
		}
		cur = c
	}
	sys := viewer.SystemContext(ctx)
	if merchantID != nil {
		m, err := s.db.Merchant.Query().Where(merchant.ID(*merchantID)).Select(merchant.FieldCurrency).Only(sys)
		if ent.IsNotFound(err) {
			return nil, apperror.NotFoundf("merchant not found")
		}
		if err != nil {
			return nil, err
		}
		cur = m.Currency
	}
	if categoryID != nil {
		ok, err := s.db.Category.Query().Where(category.ID(*categoryID)).Exist(sys)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, apperror.NotFoundf("category not found")
		}
	}
	d, err := s.dashboard(from, to, g, cur)
	if err != nil {
		return nil, err
	}
	if merchantID != nil {
		d.merchant = *merchantID
	}
	if categoryID != nil {
		d.category = *categoryID
	}
	return d, nil
}

func (s *Service) dashboard(from, to string, g *Granularity, currency string) (*Dashboard, error) {
	gran := Day
	if g != nil {
		gran = *g
	}
	f, err1 := time.Parse(time.DateOnly, from)
	t, err2 := time.Parse(time.DateOnly, to)
	switch {
	case err1 != nil:
		return nil, apperror.BadInput("from", "must be a day as YYYY-MM-DD")
	case err2 != nil:
		return nil, apperror.BadInput("to", "must be a day as YYYY-MM-DD")
	case t.Before(f):
		return nil, apperror.BadInput("to", "must not be before from")
	}
	days := int(t.Sub(f).Hours()/24) + 1
	if max := MaxDaysByDay; gran == Day && days > max {
		return nil, apperror.BadInput("to", "the range may span at most %d days by DAY", max)
	} else if max := MaxDaysByPeriod; days > max {
		return nil, apperror.BadInput("to", "the range may span at most %d days", max)
	}
	return &Dashboard{From: from, To: to, Granularity: gran, TimeZone: s.loc.String(), Currency: currency,
		s: s, first: dayOfDate(f), last: dayOfDate(t)}, nil
}

// currencyMerchants limits a rollup query of all merchants to those selling in currency.
func (d *Dashboard) currencyMerchants(column string) func(*sql.Selector) {
	return func(s *sql.Selector) {
		t := sql.Table(merchant.Table)
		s.Where(sql.In(s.C(column), sql.Select(t.C(merchant.FieldID)).From(t).Where(sql.EQ(t.C(merchant.FieldCurrency), d.Currency))))
	}
}

// inCategory limits a rollup query to products of the dashboard's category.
func (d *Dashboard) inCategory(column string) func(*sql.Selector) {
	return func(s *sql.Selector) {
		t := sql.Table(product.Table)
		s.Where(sql.In(s.C(column), sql.Select(t.C(product.FieldID)).From(t).Where(sql.EQ(t.C(product.FieldCategoryID), d.category))))
	}
}

func (d *Dashboard) loadSales(ctx context.Context) ([]salesAgg, error) {
	d.salesOnce.Do(func() {
		sys := viewer.SystemContext(ctx)
		if d.category != 0 {
			// A category's figures come from its products' rows: paid orders, units, sales
			// (no channel: channels show traffic only).
			q := d.s.db.AnalyticsProductDay.Query().Where(analyticsproductday.DayGTE(d.first), analyticsproductday.DayLTE(d.last),
				analyticsproductday.CategoryID(d.category))
			if d.merchant != 0 {
				q.Where(analyticsproductday.MerchantID(d.merchant))
			} else {
				q.Where(d.currencyMerchants(analyticsproductday.FieldMerchantID))
			}
			d.salesErr = q.Modify(func(s *sql.Selector) {
				s.Select(s.C(analyticsproductday.FieldDay),
					sql.As(sql.Sum(s.C(analyticsproductday.FieldOrders)), "paid_orders"),
					sql.As(sql.Sum(s.C(analyticsproductday.FieldPaidAmount)), "paid_amount"),
					sql.As(sql.Sum(s.C(analyticsproductday.FieldUnits)), "units")).
					GroupBy(s.C(analyticsproductday.FieldDay))
			}).Scan(sys, &d.sales)
			return
		}
		q := d.s.db.AnalyticsSalesDay.Query().Where(analyticssalesday.DayGTE(d.first), analyticssalesday.DayLTE(d.last))
		if d.merchant != 0 {
			q.Where(analyticssalesday.MerchantID(d.merchant))
		} else {
			q.Where(analyticssalesday.Currency(d.Currency))
		}
		d.salesErr = q.Modify(func(s *sql.Selector) {
			sum := func(c string) string { return sql.As(sql.Sum(s.C(c)), c) }
			s.Select(s.C(analyticssalesday.FieldDay), s.C(analyticssalesday.FieldChannel),
				sum(analyticssalesday.FieldOrders), sum(analyticssalesday.FieldPaidOrders),
				sum(analyticssalesday.FieldPaidAmount), sum(analyticssalesday.FieldRefundedAmount),
				sum(analyticssalesday.FieldRefundedOrders), sum(analyticssalesday.FieldCancelledOrders),
				sum(analyticssalesday.FieldUnits), sum(analyticssalesday.FieldPaymentFailures)).
				GroupBy(s.C(analyticssalesday.FieldDay), s.C(analyticssalesday.FieldChannel))
		}).Scan(sys, &d.sales)
	})
	return d.sales, d.salesErr
}

func (d *Dashboard) loadTraffic(ctx context.Context) ([]trafficAgg, error) {
	d.trafficOnce.Do(func() {
		q := d.s.db.AnalyticsTrafficDay.Query().Where(analyticstrafficday.DayGTE(d.first), analyticstrafficday.DayLTE(d.last))
		switch {
		case d.merchant != 0:
			q.Where(analyticstrafficday.MerchantID(d.merchant))
		default:
			q.Where(analyticstrafficday.MerchantIDNEQ(0), d.currencyMerchants(analyticstrafficday.FieldMerchantID))
		}
		if d.category != 0 {
			q.Where(d.inCategory(analyticstrafficday.FieldProductID))
		}
		d.trafficErr = q.Modify(func(s *sql.Selector) {
			s.Select(s.C(analyticstrafficday.FieldChannel),
				sql.As(sql.Sum(s.C(analyticstrafficday.FieldViews)), "views"),
				sql.As(sql.Sum(s.C(analyticstrafficday.FieldCarts)), "carts"),
				sql.As(sql.Sum(s.C(analyticstrafficday.FieldCheckouts)), "checkouts")).
				GroupBy(s.C(analyticstrafficday.FieldChannel))
		}).Scan(viewer.SystemContext(ctx), &d.traffic)
	})
	return d.traffic, d.trafficErr
}

// periodStart is the first day of the period holding day.
func (d *Dashboard) periodStart(day int) int {
	t := time.Date(day/10000, time.Month(day/100%100), day%100, 0, 0, 0, 0, time.UTC)
	switch d.Granularity {
	case Week:
		t = t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
	case Month:
		t = t.AddDate(0, 0, 1-t.Day())
	}
	return dayOfDate(t)
}

func (d *Dashboard) period(start int, rows []salesAgg) *Period {
	var orders, paid, amount, refunded, refundedOrd, cancelled, units int64
	for _, r := range rows {
		orders += r.Orders
		paid += r.PaidOrders
		amount += r.PaidAmount
		refunded += r.RefundedAmount
		refundedOrd += r.RefundedOrders
		cancelled += r.CancelledOrders
		units += r.Units
	}
	aov := int64(0)
	if paid > 0 {
		aov = (amount + paid/2) / paid
	}
	return &Period{Start: dayString(start), Orders: int(orders), PaidOrders: int(paid),
		Sales: money.New(amount, d.Currency), AverageOrderValue: money.New(aov, d.Currency),
		Refunds: money.New(refunded, d.Currency), RefundedOrders: int(refundedOrd),
		CancelledOrders: int(cancelled), Units: int(units)}
}

// Series is the sales period by period, every period of the range included.
func (d *Dashboard) Series(ctx context.Context) ([]*Period, error) {
	rows, err := d.loadSales(ctx)
	if err != nil {
		return nil, err
	}
	byPeriod := map[int][]salesAgg{}
	for _, r := range rows {
		p := d.periodStart(r.Day)
		byPeriod[p] = append(byPeriod[p], r)
	}
	var out []*Period
	first := time.Date(d.first/10000, time.Month(d.first/100%100), d.first%100, 0, 0, 0, 0, time.UTC)
	for t := first; dayOfDate(t) <= d.last; t = t.AddDate(0, 0, 1) {
		p := d.periodStart(dayOfDate(t))
		if len(out) > 0 && out[len(out)-1].Start == dayString(p) {
			continue
		}
		out = append(out, d.period(p, byPeriod[p]))
	}
	return out, nil
}

// Totals is the sales of the whole range.
func (d *Dashboard) Totals(ctx context.Context) (*Period, error) {
	rows, err := d.loadSales(ctx)
	if err != nil {
		return nil, err
	}
	return d.period(d.first, rows), nil
}

type productAgg struct {
	Key    int   `json:"key"`
	Orders int64 `json:"orders"`
	Units  int64 `json:"units"`
	Amount int64 `json:"amount"`
}

func (d *Dashboard) productSums(ctx context.Context, column string, limit int) ([]productAgg, error) {
	q := d.s.db.AnalyticsProductDay.Query().Where(analyticsproductday.DayGTE(d.first), analyticsproductday.DayLTE(d.last))
	if d.merchant != 0 {
		q.Where(analyticsproductday.MerchantID(d.merchant))
	} else {
		q.Where(d.currencyMerchants(analyticsproductday.FieldMerchantID))
	}
	if d.category != 0 {
		q.Where(analyticsproductday.CategoryID(d.category))
	}
	var rows []productAgg
	err := q.Modify(func(s *sql.Selector) {
		s.Select(sql.As(s.C(column), "key"),
			sql.As(sql.Sum(s.C(analyticsproductday.FieldOrders)), "orders"),
			sql.As(sql.Sum(s.C(analyticsproductday.FieldUnits)), "units"),
			sql.As(sql.Sum(s.C(analyticsproductday.FieldPaidAmount)), "amount")).
			GroupBy(s.C(column)).OrderExpr(sql.Expr("amount DESC"), sql.Expr(s.C(column))).Limit(limit)
	}).Scan(viewer.SystemContext(ctx), &rows)
	return rows, err
}

// TopProducts are the ten best sellers by sales.
func (d *Dashboard) TopProducts(ctx context.Context) ([]*TopProduct, error) {
	rows, err := d.productSums(ctx, analyticsproductday.FieldProductID, 10)
	if err != nil {
		return nil, err
	}
	ids := make([]int, len(rows))
	for i, r := range rows {
		ids[i] = r.Key
	}
	// The caller's context: a product they may not see reads as null.
	ps, err := d.s.db.Product.Query().Where(product.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[int]*ent.Product{}
	for _, p := range ps {
		byID[p.ID] = p
	}
	out := make([]*TopProduct, len(rows))
	for i, r := range rows {
		out[i] = &TopProduct{Product: byID[r.Key], ProductID: r.Key, PaidOrders: int(r.Orders), Units: int(r.Units),
			Sales: money.New(r.Amount, d.Currency)}
	}
	return out, nil
}

// Categories are the twenty best-selling categories (0: products without one).
func (d *Dashboard) Categories(ctx context.Context) ([]*CategorySales, error) {
	rows, err := d.productSums(ctx, analyticsproductday.FieldCategoryID, 20)
	if err != nil {
		return nil, err
	}
	ids := make([]int, len(rows))
	for i, r := range rows {
		ids[i] = r.Key
	}
	cs, err := d.s.db.Category.Query().Where(category.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[int]*ent.Category{}
	for _, c := range cs {
		byID[c.ID] = c
	}
	out := make([]*CategorySales, len(rows))
	for i, r := range rows {
		out[i] = &CategorySales{Category: byID[r.Key], CategoryID: r.Key, PaidOrders: int(r.Orders), Units: int(r.Units),
			Sales: money.New(r.Amount, d.Currency)}
	}
	return out, nil
}

// Funnel is view → cart → checkout → order → paid over the range.
func (d *Dashboard) Funnel(ctx context.Context) (*Funnel, error) {
	cs, err := d.Channels(ctx)
	if err != nil {
		return nil, err
	}
	f := &Funnel{}
	for _, c := range cs {
		f.Views += c.Views
		f.AddsToCart += c.AddsToCart
		f.Checkouts += c.Checkouts
		f.Orders += c.Orders
		f.PaidOrders += c.PaidOrders
	}
	return f, nil
}

// Channels is traffic and sales by channel, every channel included.
func (d *Dashboard) Channels(ctx context.Context) ([]*ChannelTraffic, error) {
	sales, err := d.loadSales(ctx)
	if err != nil {
		return nil, err
	}
	traffic, err := d.loadTraffic(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*ChannelTraffic, len(AllChannels))
	byChannel := map[Channel]*ChannelTraffic{}
	amounts := map[Channel]int64{}
	for i, c := range AllChannels {
		out[i] = &ChannelTraffic{Channel: c}
		byChannel[c] = out[i]
	}
	for _, r := range sales {
		if c := byChannel[Channel(r.Channel)]; c != nil {
			c.Orders += int(r.Orders)
			c.PaidOrders += int(r.PaidOrders)
			amounts[c.Channel] += r.PaidAmount
		}
	}
	for _, r := range traffic {
		if c := byChannel[Channel(r.Channel)]; c != nil {
			c.Views += int(r.Views)
			c.AddsToCart += int(r.Carts)
			c.Checkouts += int(r.Checkouts)
		}
	}
	for _, c := range out {
		c.Sales = money.New(amounts[c.Channel], d.Currency)
	}
	return out, nil
}

// paidStatuses are the statuses of orders paid and not cancelled.
var paidStatuses = []order.Status{order.StatusPAID, order.StatusRISK_REVIEW, order.StatusACCEPTED, order.StatusSHIPPED,
	order.StatusDELIVERED, order.StatusFULFILLED, order.StatusCOMPLETED}

// buyerCounts reads how many customers have paid (not cancelled) orders placed in the
// range, and how many of them two or more, from the orders' (merchant_id, status,
// created_at, customer_id) index.
func (d *Dashboard) buyerCounts(ctx context.Context) (buyers, repeat int, err error) {
	if d.category != 0 {
		return 0, 0, nil
	}
	var where []string
	var args []any
	if d.merchant != 0 {
		where, args = append(where, "merchant_id = ?"), append(args, d.merchant)
	}
	marks := make([]string, len(paidStatuses))
	for i, st := range paidStatuses {
		marks[i] = "?"
		args = append(args, string(st))
	}
	where = append(where, "status IN ("+strings.Join(marks, ", ")+")", "created_at >= ?", "created_at < ?")
	args = append(args, d.s.dayStart(d.first).UTC(), d.s.dayStart(d.last).AddDate(0, 0, 1).UTC())
	q := "SELECT COUNT(*), COALESCE(SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END), 0) FROM (SELECT customer_id, COUNT(*) AS n FROM orders WHERE " +
		strings.Join(where, " AND ") + " GROUP BY customer_id) b"
	err = d.s.sql.QueryRowContext(ctx, q, args...).Scan(&buyers, &repeat)
	return buyers, repeat, err
}

// Buyers is how many customers paid an order placed in the range.
func (d *Dashboard) Buyers(ctx context.Context) (int, error) {
	b, _, err := d.buyerCounts(ctx)
	return b, err
}

// RepeatBuyers is how many of them paid two or more.
func (d *Dashboard) RepeatBuyers(ctx context.Context) (int, error) {
	_, r, err := d.buyerCounts(ctx)
	return r, err
}

// RepeatBuyerRate is RepeatBuyers / Buyers.
func (d *Dashboard) RepeatBuyerRate(ctx context.Context) (float64, error) {
	b, r, err := d.buyerCounts(ctx)
	if err != nil || b == 0 {
		return 0, err
	}
	return float64(r) / float64(b), nil
}

// LowStock lists the merchant's variants at or under their low-stock threshold.
func (d *Dashboard) LowStock(ctx context.Context) ([]*ent.ProductVariant, error) {
	if d.merchant == 0 {
		return []*ent.ProductVariant{}, nil
	}
	return d.s.db.ProductVariant.Query().Where(productvariant.MerchantID(d.merchant),
		func(s *sql.Selector) {
			s.Where(sql.ColumnsLTE(s.C(productvariant.FieldStock), s.C(productvariant.FieldLowStockThreshold)))
		}).Order(ent.Asc(productvariant.FieldStock), ent.Asc(productvariant.FieldID)).Limit(20).All(ctx)
}

// recentScan is how many of the latest order events PaymentFailures looks through.
const recentScan = 5000

// PaymentFailures counts failed payments on orders placed in the range and lists the
// latest ten among the last recentScan order events.
func (d *Dashboard) PaymentFailures(ctx context.Context) (*PaymentFailures, error) {
	rows, err := d.loadSales(ctx)
	if err != nil {
		return nil, err
	}
	out := &PaymentFailures{Recent: []*PaymentFailure{}}
	for _, r := range rows {
		out.Count += int(r.PaymentFailures)
	}
	// The latest failures among the merchant's last recentScan events: the (merchant_id, id)
	// index bounds the scan however rare failures are.
	where, args := "", []any{}
	if d.merchant != 0 {
		where, args = "WHERE merchant_id = ? ", append(args, d.merchant)
	}
	args = append(args, recentScan, string(orderevent.TypePAYMENT_FAILED))
	rs, err := d.s.sql.QueryContext(ctx, "SELECT e.id FROM (SELECT id, type FROM order_events "+where+
		"ORDER BY id DESC LIMIT ?) e WHERE e.type = ? ORDER BY e.id DESC LIMIT 10", args...)
	if err != nil {
		return nil, err
	}
	var eids []int
	for rs.Next() {
		var id int
		if err := rs.Scan(&id); err != nil {
			_ = rs.Close()
			return nil, err
		}
		eids = append(eids, id)
	}
	if err := errors.Join(rs.Err(), rs.Close()); err != nil || len(eids) == 0 {
		return out, err
	}
	sys := viewer.SystemContext(ctx)
	evs, err := d.s.db.OrderEvent.Query().Where(orderevent.IDIn(eids...)).Order(ent.Desc(orderevent.FieldID)).All(sys)
	if err != nil {
		return nil, err
	}
	ids := make([]int, len(evs))
	for i, e := range evs {
		ids[i] = e.OrderID
	}
	os, err := d.s.db.Order.Query().Where(order.IDIn(ids...)).Select(order.FieldID, order.FieldNumber).All(sys)
	if err != nil {
		return nil, err
	}
	numbers := map[int]string{}
	for _, o := range os {
		numbers[o.ID] = o.Number
	}
	for _, e := range evs {
		out.Recent = append(out.Recent, &PaymentFailure{OrderNumber: numbers[e.OrderID], At: e.CreatedAt, Reason: e.Reason})
	}
	return out, nil
}

// FreshAsOf is when the rollup job last caught up.
func (d *Dashboard) FreshAsOf(ctx context.Context) (*time.Time, error) { return d.s.FreshAsOf(ctx) }
