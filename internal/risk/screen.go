package risk

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderadjustment"
	"github.com/xiadan/xiadan/ent/orderitem"
	entpayment "github.com/xiadan/xiadan/ent/payment"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/riskassessment"
	"github.com/xiadan/xiadan/ent/risklistentry"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/orders"
)

// The rules: their codes, as admins read them, and the score each adds when it fires.
const (
	RuleBlocklisted       = "BLOCKLISTED"
	RuleAccountVelocity   = "ACCOUNT_VELOCITY"
	RuleDeviceVelocity    = "DEVICE_VELOCITY"
	RuleAddressVelocity   = "ADDRESS_VELOCITY"
	RulePhoneVelocity     = "PHONE_VELOCITY"
	RuleSharedDevice      = "SHARED_DEVICE"
	RuleSharedAddress     = "SHARED_ADDRESS"
	RuleLargeQuantity     = "LARGE_QUANTITY"
	RuleLargeAmount       = "LARGE_AMOUNT"
	RuleAboveMerchantNorm = "ABOVE_MERCHANT_NORM"
	RulePaymentFailures   = "PAYMENT_FAILURES"
	RuleCouponAbuse       = "COUPON_ABUSE"
)

// Scores are what each rule adds to an order's score (docs/RISK.md).
var Scores = map[string]int{
	RuleBlocklisted:       100,
	RuleAccountVelocity:   25,
	RuleDeviceVelocity:    25,
	RuleAddressVelocity:   25,
	RulePhoneVelocity:     25,
	RuleSharedDevice:      35,
	RuleSharedAddress:     35,
	RuleLargeQuantity:     20,
	RuleLargeAmount:       30,
	RuleAboveMerchantNorm: 25,
	RulePaymentFailures:   30,
	RuleCouponAbuse:       40,
}

// HeldReason is what the order's timeline says when it is held: the customer and the
// merchant read it, so it names no rule and no score.
const HeldReason = "under review"

// Paid scores order o, just moved to PAID, in db's transaction (payments.PaidScreener).
// A trusted customer's or merchant's order is not scored (TRUSTED); otherwise every rule
// runs against the signals kept at checkout and the order's score is their sum. At or
// above the hold score (mode hold), the order moves to RISK_REVIEW, event RISK_HELD,
// until an admin decides (Approve, Reject). An order placed without screening (before
// this feature, or with RISK_MODE=off) is assessed from what the order itself carries.
func (s *Service) Paid(ctx context.Context, db *ent.Client, o *ent.Order) error {
	if s.Config.Mode == ModeOff {
		return nil
	}
	sctx := system(ctx)
	now := s.now()
	a, err := db.RiskAssessment.Query().Where(riskassessment.OrderID(o.ID)).Only(sctx)
	if ent.IsNotFound(err) {
		a, err = s.assessLate(ctx, db, o, now)
	}
	if err != nil {
		return err
	}
	if a.Status != riskassessment.StatusPENDING {
		return nil // screened already: an order is paid once
	}
	// The signals the order carries, as they are now that it is paid.
	if a.Email, err = emailOf(ctx, db, o.CustomerID); err != nil {
		return err
	}
	if a.CouponUsed, err = db.OrderAdjustment.Query().
		Where(orderadjustment.OrderID(o.ID), orderadjustment.KindIn(couponKinds...)).Exist(sctx); err != nil {
		return err
	}
	trusted, err := db.RiskListEntry.Query().Where(risklistentry.Or(
		risklistentry.And(risklistentry.KindEQ(risklistentry.KindTRUSTED_USER), risklistentry.Value(strconv.Itoa(o.CustomerID))),
		risklistentry.And(risklistentry.KindEQ(risklistentry.KindTRUSTED_MERCHANT), risklistentry.Value(strconv.Itoa(o.MerchantID))),
	)).Exist(sctx)
	if err != nil {
		return err
	}
	status, score, hits := riskassessment.StatusTRUSTED, 0, []schematype.RiskRuleHit{}
	if !trusted {
		if hits, err = s.evaluate(ctx, db, a, o, now); err != nil {
			return err
		}
		for _, h := range hits {
			score += h.Score
		}
		status = riskassessment.StatusPASSED
		if s.Config.Mode == ModeHold && score >= s.Config.HoldScore {
			status = riskassessment.StatusHELD
		}
	}
	n, err := db.RiskAssessment.Update().
		Where(riskassessment.ID(a.ID), riskassessment.StatusEQ(riskassessment.StatusPENDING)).
		SetEmail(truncate(a.Email, 254)).SetCouponUsed(a.CouponUsed).
		SetStatus(status).SetScore(score).SetRules(hits).SetScreenedAt(now).SetUpdatedAt(now).
		Save(sctx)
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("risk assessment of order %s: screened twice", o.Number)
	}
	if status != riskassessment.StatusHELD {
		return nil
	}
	_, err = s.Orders.Transition(ctx, db, o, order.StatusRISK_REVIEW, orders.System, HeldReason, nil)
	return err
}

// assessLate creates the assessment of an order that has none, from the order's own
// signals (no device or client address).
func (s *Service) assessLate(ctx context.Context, db *ent.Client, o *ent.Order, now time.Time) (*ent.RiskAssessment, error) {
	sctx := system(ctx)
	email, err := emailOf(ctx, db, o.CustomerID)
	if err != nil {
		return nil, err
	}
	coupon, err := db.OrderAdjustment.Query().
		Where(orderadjustment.OrderID(o.ID), orderadjustment.KindIn(couponKinds...)).Exist(sctx)
	if err != nil {
		return nil, err
	}
	return newAssessment(db, o, email, coupon, now).Save(sctx)
}

// evaluate runs every rule on assessment a of order o and returns those that fired, each
// with its score and an explanation for the reviewing admin.
func (s *Service) evaluate(ctx context.Context, db *ent.Client, a *ent.RiskAssessment, o *ent.Order, now time.Time) ([]schematype.RiskRuleHit, error) {
	sctx := system(ctx)
	c := s.Config
	hits := []schematype.RiskRuleHit{}
	fire := func(code, format string, args ...any) {
		hits = append(hits, schematype.RiskRuleHit{Code: code, Score: Scores[code], Explanation: fmt.Sprintf(format, args...)})
	}
	recent := riskassessment.CreatedAtGTE(now.Add(-c.VelocityWindow))
	linked := riskassessment.CreatedAtGTE(now.Add(-c.LinkWindow))
	vw, lw := window(c.VelocityWindow), window(c.LinkWindow)

	// Block lists: an entry added after checkout still counts when the order is paid.
	kinds, err := blocked(ctx, db, signals{device: a.DeviceID, phone: a.Phone, addressKey: a.AddressKey, email: a.Email})
	if err != nil {
		return nil, err
	}
	if len(kinds) > 0 {
		names := make([]string, len(kinds))
		for i, k := range kinds {
			names[i] = strings.ToLower(strings.TrimPrefix(string(k), "BLOCKED_"))
		}
		sort.Strings(names)
		fire(RuleBlocklisted, "the order's %s is on the block list (added after checkout)", strings.Join(names, " and "))
	}

	// Velocity: orders per account, device, address and phone.
	velocity := []struct {
		code, what string
		max        int
		where      predicate.RiskAssessment
		has        bool
	}{
		{RuleAccountVelocity, "this account", c.MaxOrdersPerAccount, riskassessment.CustomerID(a.CustomerID), true},
		{RuleDeviceVelocity, "this device", c.MaxOrdersPerDevice, riskassessment.DeviceID(a.DeviceID), a.DeviceID != ""},
		{RuleAddressVelocity, "this shipping address", c.MaxOrdersPerAddress, riskassessment.AddressKey(a.AddressKey), a.AddressKey != ""},
		{RulePhoneVelocity, "this phone", c.MaxOrdersPerPhone, riskassessment.Phone(a.Phone), a.Phone != ""},
	}
	for _, v := range velocity {
		if !v.has || v.max == 0 {
			continue
		}
		n, err := db.RiskAssessment.Query().Where(v.where, recent).Count(sctx)
		if err != nil {
			return nil, err
		}
		if n > v.max {
			fire(v.code, "%d orders from %s in the last %s (more than %d)", n, v.what, vw, v.max)
		}
	}

	// Many accounts on one device or one address.
	accounts := func(where ...predicate.RiskAssessment) (int, error) {
		ids, err := db.RiskAssessment.Query().Where(where...).Unique(true).Select(riskassessment.FieldCustomerID).Ints(sctx)
		return len(ids), err
	}
	shared := []struct {
		code, what string
		max        int
		where      predicate.RiskAssessment
		has        bool
	}{
		{RuleSharedDevice, "this device", c.MaxAccountsPerDevice, riskassessment.DeviceID(a.DeviceID), a.DeviceID != ""},
		{RuleSharedAddress, "this shipping address", c.MaxAccountsPerAddress, riskassessment.AddressKey(a.AddressKey), a.AddressKey != ""},
	}
	for _, v := range shared {
		if !v.has || v.max == 0 {
			continue
		}
		n, err := accounts(v.where, linked)
		if err != nil {
			return nil, err
		}
		if n > v.max {
			fire(v.code, "%d accounts ordered from %s in the last %s (more than %d)", n, v.what, lw, v.max)
		}
	}

	// Coupon abuse: many accounts using coupons from one device or to one address.
	if a.CouponUsed && c.MaxCouponAccounts > 0 {
		for _, v := range shared {
			if !v.has {
				continue
			}
			// This order's own row is not updated yet: count its customer apart.
			ids, err := db.RiskAssessment.Query().Where(v.where, linked, riskassessment.CouponUsed(true), riskassessment.IDNEQ(a.ID)).
				Unique(true).Select(riskassessment.FieldCustomerID).Ints(sctx)
			if err != nil {
				return nil, err
			}
			n := len(ids) + 1
			if slices.Contains(ids, a.CustomerID) {
				n--
			}
			if n > c.MaxCouponAccounts {
				fire(RuleCouponAbuse, "%d accounts used coupons from %s in the last %s (more than %d)", n, v.what, lw, c.MaxCouponAccounts)
				break
			}
		}
	}

	// Abnormal quantity and amount.
	if c.MaxLineQuantity > 0 {
		items, err := db.OrderItem.Query().
			Where(orderitem.OrderID(o.ID), orderitem.QuantityGT(c.MaxLineQuantity)).
			Order(orderitem.ByQuantity(sql.OrderDesc())).All(sctx)
		if err != nil {
			return nil, err
		}
		if len(items) > 0 {
			fire(RuleLargeQuantity, "%d × %s (%s) in one line (more than %d)", items[0].Quantity, items[0].Title, items[0].Sku, c.MaxLineQuantity)
		}
	}
	total := money.Money{Minor: o.Total, Currency: o.Currency}
	if c.MaxOrderAmount > 0 && o.Total > c.MaxOrderAmount {
		fire(RuleLargeAmount, "the total %s is above %s", total.Formatted(), money.Money{Minor: c.MaxOrderAmount, Currency: o.Currency}.Formatted())
	}
	if c.NormFactor > 0 {
		norm := db.RiskAssessment.Query().Where(riskassessment.MerchantID(o.MerchantID), riskassessment.Currency(o.Currency),
			riskassessment.StatusIn(riskassessment.StatusPASSED, riskassessment.StatusAPPROVED, riskassessment.StatusTRUSTED),
			riskassessment.IDNEQ(a.ID), linked)
		n, err := norm.Clone().Count(sctx)
		if err != nil {
			return nil, err
		}
		if n >= max(1, c.NormMinOrders) {
			sum, err := norm.Aggregate(ent.Sum(riskassessment.FieldTotal)).Int(sctx)
			if err != nil {
				return nil, err
			}
			avg := int64(sum) / int64(n)
			if avg > 0 && o.Total > avg*int64(c.NormFactor) {
				fire(RuleAboveMerchantNorm, "the total %s is more than %d × the merchant's average order of %s (%d orders in the last %s)",
					total.Formatted(), c.NormFactor, money.Money{Minor: avg, Currency: o.Currency}.Formatted(), n, lw)
			}
		}
	}

	// Repeated payment failures of the customer.
	if c.MaxPaymentFailures > 0 {
		n, err := db.Payment.Query().Where(entpayment.CustomerID(o.CustomerID), entpayment.StatusEQ(entpayment.StatusFAILED),
			entpayment.CreatedAtGTE(now.Add(-c.VelocityWindow))).Count(sctx)
		if err != nil {
			return nil, err
		}
		if n > c.MaxPaymentFailures {
			fire(RulePaymentFailures, "%d failed payments by this account in the last %s (more than %d)", n, vw, c.MaxPaymentFailures)
		}
	}
	return hits, nil
}

// window writes a duration as people say it: 24h, 30d, 90m.
func window(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
