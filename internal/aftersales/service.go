// Package aftersales runs after-sales requests (售后): a customer's refund, return or
// exchange of a paid order, the merchant's answer within a deadline, the return of the
// goods, platform arbitration (平台介入), and the one refund a request may execute through
// internal/payments. docs/AFTER_SALES.md has the rules and the state diagram.
//
// Every step locks the request's order and then the request itself (SELECT … FOR UPDATE
// on MySQL), always in that order, decides on the rows it locked, and moves the request
// with a write conditional on the status it found (UPDATE … WHERE id = ? AND status = ?)
// whose rows-affected must be one. Of two steps racing on one request one wins and the
// other gets INVALID_STATE; the refund row carries the request's id under a unique key.
package aftersales

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/aftersalesrequest"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/payments"
	"github.com/xiadan/xiadan/internal/upload"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Config is how long each side has for its step (AFTER_SALES_* in internal/config).
type Config struct {
	// ResponseWindow is how long a merchant has to answer a request; then it is approved.
	ResponseWindow time.Duration
	// ProposalWindow is how long a customer has to answer a partial proposal; then it is accepted.
	ProposalWindow time.Duration
	// EscalationWindow is how long a customer may escalate a rejection; then the request closes.
	EscalationWindow time.Duration
	// ReturnWindow is how long a customer has to ship the goods back; then the request closes.
	ReturnWindow time.Duration
	// ReceiptWindow is how long a merchant has to confirm a return; then it is confirmed
	// (and refunded).
	ReceiptWindow time.Duration
	// ReplacementWindow is the merchant's deadline to ship an exchange's replacement (shown
	// in the queue; nothing happens by itself when it passes).
	ReplacementWindow time.Duration
	// RequestWindow is how long after an order completes a request may still be opened.
	RequestWindow time.Duration
}

// DefaultConfig is the configuration when nothing is set.
func DefaultConfig() Config {
	return Config{
		ResponseWindow:    48 * time.Hour,
		ProposalWindow:    72 * time.Hour,
		EscalationWindow:  7 * 24 * time.Hour,
		ReturnWindow:      7 * 24 * time.Hour,
		ReceiptWindow:     10 * 24 * time.Hour,
		ReplacementWindow: 72 * time.Hour,
		RequestWindow:     15 * 24 * time.Hour,
	}
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"AFTER_SALES_RESPONSE_WINDOW", c.ResponseWindow}, {"AFTER_SALES_PROPOSAL_WINDOW", c.ProposalWindow},
		{"AFTER_SALES_ESCALATION_WINDOW", c.EscalationWindow}, {"AFTER_SALES_RETURN_WINDOW", c.ReturnWindow},
		{"AFTER_SALES_RECEIPT_WINDOW", c.ReceiptWindow}, {"AFTER_SALES_REPLACEMENT_WINDOW", c.ReplacementWindow},
		{"AFTER_SALES_REQUEST_WINDOW", c.RequestWindow},
	} {
		if d.d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive", d.name))
		}
	}
	return errors.Join(errs...)
}

// Service runs after-sales requests.
type Service struct {
	Config   Config
	Orders   *orders.Service
	Payments *payments.Service
	Uploads  *upload.Service
	// Now is the clock of deadlines (time.Now when nil).
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return s.Now().UTC().Truncate(time.Microsecond)
}

// open are the statuses of a request still under way.
var open = []aftersalesrequest.Status{
	aftersalesrequest.StatusREQUESTED, aftersalesrequest.StatusPROPOSED, aftersalesrequest.StatusREJECTED,
	aftersalesrequest.StatusESCALATED, aftersalesrequest.StatusAWAITING_RETURN, aftersalesrequest.StatusRETURN_SHIPPED,
	aftersalesrequest.StatusAWAITING_REPLACEMENT,
}

// IsOpen reports whether a request in status st is still under way.
func IsOpen(st aftersalesrequest.Status) bool {
	for _, o := range open {
		if o == st {
			return true
		}
	}
	return false
}

func system(ctx context.Context) context.Context { return privacy.DecisionContext(ctx, privacy.Allow) }

// visible reads request id as the caller sees it: NOT_FOUND when it does not exist or the
// caller may not see it.
func visible(ctx context.Context, db *ent.Client, id int) (*ent.AfterSalesRequest, error) {
	r, err := db.AfterSalesRequest.Get(ctx, id)
	if ent.IsNotFound(err) || errors.Is(err, privacy.Deny) {
		return nil, apperror.NotFoundf("after-sales request %d not found", id)
	}
	return r, err
}

// locked reads request id as the caller sees it, then locks its order and the request
// (in that order, everywhere) and returns both as they are now.
func locked(ctx context.Context, db *ent.Client, id int) (*ent.AfterSalesRequest, *ent.Order, error) {
	r, err := visible(ctx, db, id)
	if err != nil {
		return nil, nil, err
	}
	o, err := orders.Lock(ctx, db, r.OrderID)
	if err != nil {
		return nil, nil, err
	}
	r, err = db.AfterSalesRequest.Query().Where(aftersalesrequest.ID(id), hooks.LockRows).Only(system(ctx))
	if err != nil {
		return nil, nil, err
	}
	return r, o, nil
}

// side is who may take a step.
type side int

const (
	customerSide side = 1 << iota
	merchantSide
	adminSide
)

// may checks that the viewer acts for one of the sides: FORBIDDEN otherwise (the request
// is visible to the caller, or locked would have said NOT_FOUND). The system may do anything.
func may(ctx context.Context, r *ent.AfterSalesRequest, sides side) error {
	v := viewer.FromContext(ctx)
	switch {
	case v == nil || v.System:
		return nil
	case sides&merchantSide != 0 && v.UserID != 0 && v.IsMerchantMember(r.MerchantID):
		return nil
	case sides&customerSide != 0 && v.UserID != 0 && v.UserID == r.CustomerID:
		return nil
	case sides&adminSide != 0 && v.IsAdmin():
		return nil
	}
	switch sides {
	case merchantSide:
		return apperror.New(apperror.Forbidden, "only the merchant's staff may do this")
	case customerSide:
		return apperror.New(apperror.Forbidden, "only the customer may do this")
	case adminSide:
		return apperror.New(apperror.Forbidden, "only an admin may do this")
	}
	return apperror.New(apperror.Forbidden, "you may not do this")
}

// wrongState is the INVALID_STATE of a step the request's status does not allow.
func wrongState(r *ent.AfterSalesRequest, what string) error {
	return apperror.WrongState(string(r.Status), "after-sales request %s is %s, so it cannot be %s", r.Number, r.Status, what)
}

func newNumber() string { return "AS" + rand.Text()[:16] }
