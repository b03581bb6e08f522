// Package risk screens orders for fraud (风控): it keeps each order's signals when it is
// placed, scores it with explained rules when it is paid, holds a high-risk order for an
// admin's review (RISK_REVIEW) and records the review's decision; block lists refuse
// orders at checkout and trust lists skip scoring.
//
// The rules, their scores and thresholds are documented in docs/RISK.md.
package risk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/orders"
)

// Modes of the risk screening (RISK_MODE).
const (
	// ModeHold scores paid orders and holds those at or above the hold score.
	ModeHold = "hold"
	// ModeMonitor scores and records, and never holds: to tune thresholds first.
	ModeMonitor = "monitor"
	// ModeOff neither records nor scores; block lists still refuse orders.
	ModeOff = "off"
)

// Config holds the thresholds of the rules (RISK_* in internal/config). A count rule
// fires when the count, this order included, is above its maximum; 0 turns a rule off.
type Config struct {
	// Mode is hold, monitor or off.
	Mode string
	// HoldScore is the score at or above which a paid order is held for review.
	HoldScore int
	// VelocityWindow is the window of the velocity and payment-failure rules.
	VelocityWindow time.Duration
	// MaxOrdersPerAccount, …PerDevice, …PerAddress, …PerPhone: orders in VelocityWindow.
	MaxOrdersPerAccount int
	MaxOrdersPerDevice  int
	MaxOrdersPerAddress int
	MaxOrdersPerPhone   int
	// LinkWindow is the window of the shared-device, shared-address, coupon and
	// merchant-norm rules.
	LinkWindow time.Duration
	// MaxAccountsPerDevice and MaxAccountsPerAddress: distinct accounts ordering from
	// one device or to one address in LinkWindow.
	MaxAccountsPerDevice  int
	MaxAccountsPerAddress int
	// MaxCouponAccounts: distinct accounts using coupons from one device or to one
	// address in LinkWindow.
	MaxCouponAccounts int
	// MaxLineQuantity is the largest quantity of one line before it counts as abnormal.
	MaxLineQuantity int
	// MaxOrderAmount is the largest order total, in minor units of its currency.
	MaxOrderAmount int64
	// NormFactor: an order above NormFactor × its merchant's average order (in
	// LinkWindow, same currency, at least NormMinOrders orders) is abnormal.
	NormFactor    int
	NormMinOrders int
	// MaxPaymentFailures: failed payments of the customer in VelocityWindow.
	MaxPaymentFailures int
}

// DefaultConfig is the configuration when nothing is set.
func DefaultConfig() Config {
	return Config{
		Mode:                  ModeHold,
		HoldScore:             70,
		VelocityWindow:        24 * time.Hour,
		MaxOrdersPerAccount:   20,
		MaxOrdersPerDevice:    20,
		MaxOrdersPerAddress:   20,
		MaxOrdersPerPhone:     20,
		LinkWindow:            30 * 24 * time.Hour,
		MaxAccountsPerDevice:  3,
		MaxAccountsPerAddress: 5,
		MaxCouponAccounts:     2,
		MaxLineQuantity:       50,
		MaxOrderAmount:        5_000_000, // ¥50,000.00
		NormFactor:            10,
		NormMinOrders:         20,
		MaxPaymentFailures:    3,
	}
}

// Validate reports every invalid setting at once, by its variable name.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	switch c.Mode {
	case ModeHold, ModeMonitor, ModeOff:
	default:
		bad("RISK_MODE", "must be hold, monitor or off, not %q", c.Mode)
	}
	if c.HoldScore < 1 || c.HoldScore > 1000 {
		bad("RISK_HOLD_SCORE", "must be 1 to 1000")
	}
	if c.VelocityWindow < time.Minute || c.VelocityWindow > 90*24*time.Hour {
		bad("RISK_VELOCITY_WINDOW", "must be 1m to 2160h")
	}
	if c.LinkWindow < time.Minute || c.LinkWindow > 365*24*time.Hour {
		bad("RISK_LINK_WINDOW", "must be 1m to 8760h")
	}
	for name, n := range map[string]int{
		"RISK_MAX_ORDERS_PER_ACCOUNT": c.MaxOrdersPerAccount, "RISK_MAX_ORDERS_PER_DEVICE": c.MaxOrdersPerDevice,
		"RISK_MAX_ORDERS_PER_ADDRESS": c.MaxOrdersPerAddress, "RISK_MAX_ORDERS_PER_PHONE": c.MaxOrdersPerPhone,
		"RISK_MAX_ACCOUNTS_PER_DEVICE": c.MaxAccountsPerDevice, "RISK_MAX_ACCOUNTS_PER_ADDRESS": c.MaxAccountsPerAddress,
		"RISK_MAX_COUPON_ACCOUNTS": c.MaxCouponAccounts, "RISK_MAX_LINE_QUANTITY": c.MaxLineQuantity,
		"RISK_NORM_FACTOR": c.NormFactor, "RISK_NORM_MIN_ORDERS": c.NormMinOrders,
		"RISK_MAX_PAYMENT_FAILURES": c.MaxPaymentFailures,
	} {
		if n < 0 || n > 1_000_000 {
			bad(name, "must be 0 (off) to 1000000")
		}
	}
	if c.MaxOrderAmount < 0 {
		bad("RISK_MAX_ORDER_AMOUNT", "must be 0 (off) or a positive amount in minor units")
	}
	return errors.Join(errs...)
}

// Service screens orders and runs risk reviews. It implements orders.Screener and
// payments.PaidScreener.
type Service struct {
	Config Config
	// Orders moves held orders (EndRiskReview).
	Orders *orders.Service
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// New returns the risk service and makes it the screener of the order service.
func New(cfg Config, o *orders.Service) *Service {
	s := &Service{Config: cfg, Orders: o}
	o.Risk = s
	return s
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return s.Now().UTC().Truncate(time.Microsecond)
}

// system returns ctx with privacy bypassed: the service checks access itself.
func system(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}
