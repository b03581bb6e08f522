package payments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/order"
	entpayment "github.com/xiadan/xiadan/ent/payment"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/payment"
	"github.com/xiadan/xiadan/internal/viewer"
)

// PayInput is what payOrder receives.
type PayInput struct {
	// OrderIDs or CheckoutID names the orders to pay; exactly one of them is given.
	OrderIDs   []int
	CheckoutID string
	Method     payment.Method
	// Channel defaults to NATIVE_QR.
	Channel   payment.Channel
	OpenID    string
	ReturnURL string
	// IdempotencyKey makes retries return the first payment (8–128 characters).
	IdempotencyKey string
}

// idempotencyKeyPattern is what placeOrder accepts too.
var idempotencyKeyPattern = regexp.MustCompile(`^[\x21-\x7e]{8,128}$`)

// Limits of PayInput.
const (
	maxOpenIDLen = 128
	maxURLLen    = 1024
	maxOrders    = 50
)

// Pay starts paying unpaid orders of one checkout of the caller with one payment, in db's
// transaction, and returns it with the instructions the client needs.
//
// Nothing is written before the provider answers, so no row is locked while it is called
// (on MySQL; SQLite's request transaction holds the database lock from its start). A
// concurrent duplicate with the same idempotency key then waits on the unique index and
// returns the first payment; the provider-side payment it created is never paid and closes
// at its expiry.
func (s *Service) Pay(ctx context.Context, db *ent.Client, in PayInput) (*ent.Payment, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.UserID == 0 {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to pay")
	}
	if in.Channel == "" {
		in.Channel = payment.ChannelNativeQR
	}
	if err := validatePayInput(&in); err != nil {
		return nil, err
	}
	hash := in.hash()
	sctx := system(ctx)

	first, err := db.Payment.Query().
		Where(entpayment.CustomerID(v.UserID), entpayment.IdempotencyKey(in.IdempotencyKey)).
		Only(sctx)
	switch {
	case err == nil:
		return replay(first, hash)
	case !ent.IsNotFound(err):
		return nil, err
	}

	due, err := s.payable(sctx, db, v.UserID, in)
	if err != nil {
		return nil, err
	}
	total, currency := int64(0), due[0].Currency
	deadline := *due[0].PaymentDeadline
	numbers := make([]string, len(due))
	for i, o := range due {
		if o.Currency != currency {
			return nil, apperror.BadInput("orderIDs", "the orders are in different currencies; pay them separately")
		}
		total += o.Total
		if o.PaymentDeadline.Before(deadline) {
			deadline = *o.PaymentDeadline
		}
		numbers[i] = o.Number
	}
	if total <= 0 {
		return nil, apperror.WrongState(string(order.StatusPENDING_PAYMENT), "the orders have nothing to pay")
	}
	p, err := s.Registry.For(in.Method)
	if err != nil {
		return nil, apperror.BadInput("method", "no payment provider accepts %s at the moment; choose another method", in.Method)
	}
	openID := in.OpenID
	if in.Channel == payment.ChannelMiniProgram {
		if openID, err = s.payer(ctx, db, v.UserID, in); err != nil {
			return nil, err
		}
	}

	ref := newRef("P")
	instr, err := p.Create(ctx, payment.CreateRequest{
		PaymentRef: ref,
		Amount:     money.Money{Minor: total, Currency: currency},
		Method:     in.Method,
		Subject:    subject(numbers),
		Channel:    in.Channel,
		ClientIP:   auth.ClientFromContext(ctx).IP,
		OpenID:     openID,
		NotifyURL:  s.Config.NotifyURL(p.Name()),
		ReturnURL:  in.ReturnURL,
		ExpiresAt:  deadline,
	})
	if err != nil {
		return nil, s.providerError(ctx, p.Name(), "creating a payment", err)
	}

	ids := make([]int, len(due))
	for i, o := range due {
		ids[i] = o.ID
	}
	created, err := db.Payment.Create().
		SetCustomerID(v.UserID).
		SetMethod(entpayment.Method(in.Method)).
		SetProvider(p.Name()).
		SetAmount(total).
		SetCurrency(currency).
		SetProviderRef(instr.ProviderRef).
		SetIdempotencyKey(in.IdempotencyKey).
		SetPaymentRef(ref).
		SetRequestHash(hash).
		SetInstructions(instructionsMap(instr)).
		SetExpiresAt(deadline.UTC()).
		AddOrderIDs(ids...).
		Save(sctx)
	if ent.IsConstraintError(err) {
		// A concurrent duplicate won the key. On MySQL only a locking read sees its row:
		// this transaction's snapshot was taken before it committed.
		first, rerr := db.Payment.Query().
			Where(entpayment.CustomerID(v.UserID), entpayment.IdempotencyKey(in.IdempotencyKey), lockShared).
			Only(sctx)
		if rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		return replay(first, hash)
	}
	return created, err
}

// payer is the openid a mini-program payment is made with: the caller's identity in the
// app the method's provider pays in, never an openid the client names. A client's openID
// is accepted only when it is that identity (so a client cannot start payments in
// another person's name, at the provider's side, by naming their openid).
func (s *Service) payer(ctx context.Context, db *ent.Client, userID int, in PayInput) (string, error) {
	if s.PayerOpenID == nil {
		if in.OpenID == "" {
			return "", apperror.BadInput("openID", "is required for mini-program payments")
		}
		return in.OpenID, nil
	}
	own, hasPlatform, err := s.PayerOpenID(ctx, db, userID, in.Method)
	switch {
	case err != nil:
		return "", err
	case !hasPlatform:
		return "", apperror.BadInput("channel", "%s is not paid inside a mini program", in.Method)
	case own == "":
		return "", &apperror.Error{Code: apperror.BadUserInput, Field: "channel", Extensions: map[string]any{"reason": "NO_IDENTITY"},
			Message: "sign in with (or link) the mini program of the paying app first: the payer is your identity there"}
	case in.OpenID != "" && in.OpenID != own:
		return "", &apperror.Error{Code: apperror.BadUserInput, Field: "openID", Extensions: map[string]any{"reason": "NOT_YOUR_IDENTITY"},
			Message: "is not your identity in the paying app; leave it out"}
	}
	return own, nil
}

// replay returns the payment first made with an idempotency key, when the input is the same.
func replay(first *ent.Payment, hash string) (*ent.Payment, error) {
	if first.RequestHash != hash {
		return nil, apperror.ConflictOn("idempotencyKey",
			"this idempotency key was used to pay with a different input; use a new key for a new payment attempt")
	}
	return first, nil
}

// payable reads the orders in, which must be the customer's unpaid orders of one checkout.
func (s *Service) payable(ctx context.Context, db *ent.Client, customerID int, in PayInput) ([]*ent.Order, error) {
	now := time.Now()
	if in.CheckoutID != "" {
		all, err := db.Order.Query().
			Where(order.CheckoutID(in.CheckoutID), order.CustomerID(customerID)).
			Order(order.ByID()).All(ctx)
		if err != nil {
			return nil, err
		}
		if len(all) == 0 {
			return nil, apperror.NotFoundf("checkout %s not found", in.CheckoutID)
		}
		var unpaid []*ent.Order
		for _, o := range all {
			if o.Status == order.StatusPENDING_PAYMENT && o.PaymentDeadline != nil && now.Before(*o.PaymentDeadline) {
				unpaid = append(unpaid, o)
			}
		}
		if len(unpaid) == 0 {
			return nil, apperror.WrongState(string(all[0].Status), "checkout %s has no order waiting for payment", in.CheckoutID)
		}
		return unpaid, nil
	}
	found, err := db.Order.Query().
		Where(order.IDIn(in.OrderIDs...), order.CustomerID(customerID)).
		Order(order.ByID()).All(ctx)
	if err != nil {
		return nil, err
	}
	if len(found) != len(in.OrderIDs) {
		for _, id := range in.OrderIDs {
			if !slices.ContainsFunc(found, func(o *ent.Order) bool { return o.ID == id }) {
				return nil, apperror.NotFoundf("order %d not found", id)
			}
		}
	}
	for _, o := range found {
		if o.CheckoutID != found[0].CheckoutID {
			return nil, apperror.BadInput("orderIDs", "the orders belong to different checkouts; pay each checkout separately")
		}
	}
	for _, o := range found {
		if o.Status != order.StatusPENDING_PAYMENT {
			return nil, apperror.WrongState(string(o.Status), "order %s is not waiting for payment", o.Number)
		}
		if o.PaymentDeadline == nil || !now.Before(*o.PaymentDeadline) {
			return nil, apperror.WrongState(string(o.Status), "the payment deadline of order %s has passed", o.Number)
		}
	}
	return found, nil
}

func validatePayInput(in *PayInput) error {
	in.CheckoutID = strings.TrimSpace(in.CheckoutID)
	in.OpenID = strings.TrimSpace(in.OpenID)
	in.ReturnURL = strings.TrimSpace(in.ReturnURL)
	switch {
	case !idempotencyKeyPattern.MatchString(in.IdempotencyKey):
		return apperror.BadInput("idempotencyKey", "must be 8 to 128 printable ASCII characters without spaces")
	case len(in.OrderIDs) == 0 && in.CheckoutID == "":
		return apperror.BadInput("orderIDs", "give orderIDs or checkoutID")
	case len(in.OrderIDs) > 0 && in.CheckoutID != "":
		return apperror.BadInput("orderIDs", "give orderIDs or checkoutID, not both")
	case len(in.OrderIDs) > maxOrders:
		return apperror.BadInput("orderIDs", "at most %d orders can be paid together", maxOrders)
	case !in.Method.Valid():
		return apperror.BadInput("method", "unknown payment method")
	case !in.Channel.Valid():
		return apperror.BadInput("channel", "unknown payment channel")
	case len(in.OpenID) > maxOpenIDLen:
		return apperror.BadInput("openID", "must be at most %d characters", maxOpenIDLen)
	case in.ReturnURL != "" && (len(in.ReturnURL) > maxURLLen || !absoluteHTTPURL(in.ReturnURL)):
		return apperror.BadInput("returnURL", "must be an absolute http(s) URL")
	}
	slices.Sort(in.OrderIDs)
	in.OrderIDs = slices.Compact(in.OrderIDs)
	return nil
}

func absoluteHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// hash identifies the input an idempotency key was first used with.
func (in PayInput) hash() string {
	h := sha256.New()
	write := func(k, v string) { _, _ = h.Write([]byte(k + "=" + strconv.Quote(v) + "\n")) }
	ids := make([]string, len(in.OrderIDs))
	for i, id := range in.OrderIDs {
		ids[i] = strconv.Itoa(id)
	}
	write("orders", strings.Join(ids, ","))
	write("checkout", in.CheckoutID)
	write("method", string(in.Method))
	write("channel", string(in.Channel))
	write("openid", in.OpenID)
	write("return", in.ReturnURL)
	return hex.EncodeToString(h.Sum(nil))
}

// subject is the description the customer sees at the provider.
func subject(numbers []string) string {
	if len(numbers) == 1 {
		return "Xiadan order " + numbers[0]
	}
	return "Xiadan orders " + strings.Join(numbers, ", ")
}

// instructionsMap is what the client needs to pay, as the Payment.instructions map.
func instructionsMap(in *payment.Instructions) map[string]any {
	m := map[string]any{"kind": string(in.Kind)}
	if in.QRCodeURL != "" {
		m["qrCodeURL"] = in.QRCodeURL
	}
	if in.RedirectURL != "" {
		m["redirectURL"] = in.RedirectURL
	}
	if len(in.MiniProgramParams) > 0 {
		m["miniProgramParams"] = in.MiniProgramParams
	}
	if len(in.AppParams) > 0 {
		m["appParams"] = in.AppParams
	}
	return m
}

// providerError turns a provider's failure into what the caller may see; the cause is logged.
func (s *Service) providerError(ctx context.Context, provider, doing string, err error) error {
	switch {
	case errors.Is(err, payment.ErrUnsupported):
		return &apperror.Error{Code: apperror.BadUserInput, Field: "channel", Err: err,
			Message: "the payment provider does not support this method or channel"}
	case errors.Is(err, payment.ErrDeclined):
		return &apperror.Error{Code: apperror.InvalidState, Err: err,
			Message: "the payment provider declined the request"}
	case errors.Is(err, payment.ErrInvalidRequest):
		return &apperror.Error{Code: apperror.BadUserInput, Field: "input", Err: err,
			Message: "the payment provider cannot accept this request"}
	}
	s.Logger.ErrorContext(ctx, "payment provider failed", "provider", provider, "doing", doing, "err", err)
	return &apperror.Error{Code: apperror.Internal, Err: err,
		Message: "the payment provider " + provider + " is unavailable at the moment; try again shortly"}
}
