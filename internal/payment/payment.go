// Package payment is the provider layer behind one interface: it asks a payment provider
// (the sandbox, Alipay, WeChat Pay, QQ Wallet) to collect money, verifies what the provider
// tells us back, and answers the provider — and keeps no records of its own.
//
// Persisting payments is the caller's job. The flow is:
//
//  1. Registry.For(method) picks the Provider; Provider.Create returns Instructions for the
//     client (a QR code, a redirect, wx.requestPayment parameters…).
//  2. The provider calls POST /payments/notify/{name} (NotifyPath). The handler calls
//     ParseNotification, which proves who sent it and parses it; the caller then compares
//     Notification.Amount and PaymentRef with its own record, updates it idempotently
//     (providers redeliver), and calls Acknowledge with the outcome of that work.
//  3. Query asks the provider for the current state (for reconciliation); Refund returns money.
//
// Amounts are money.Money (integer minor units); decimal yuan strings exist only inside the
// adapters, converted exactly by ParseYuan and YuanString. See docs/PAYMENTS.md.
package payment

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/xiadan/xiadan/internal/money"
)

// Method is how the customer pays; the values are those of the Ent enum payment.Method.
type Method string

// The payment methods.
const (
	MethodWeChatPay Method = "WECHAT_PAY"
	MethodAlipay    Method = "ALIPAY"
	MethodQQWallet  Method = "QQ_WALLET"
	MethodBankCard  Method = "BANK_CARD"
)

// Methods lists every Method, in a stable order.
func Methods() []Method {
	return []Method{MethodWeChatPay, MethodAlipay, MethodQQWallet, MethodBankCard}
}

// Valid reports whether m is one of Methods.
func (m Method) Valid() bool {
	switch m {
	case MethodWeChatPay, MethodAlipay, MethodQQWallet, MethodBankCard:
		return true
	}
	return false
}

// Channel is where the customer pays, which decides the kind of Instructions.
type Channel string

// The channels. Not every provider supports every channel (Create returns ErrUnsupported).
const (
	// ChannelNativeQR shows a QR code the customer scans with the provider's app (desktop web).
	ChannelNativeQR Channel = "NATIVE_QR"
	// ChannelMiniProgram pays inside a mini program (wx.requestPayment, my.tradePay, qq.requestPayment).
	ChannelMiniProgram Channel = "MINI_PROGRAM"
	// ChannelH5Redirect sends a mobile browser to the provider's cashier page.
	ChannelH5Redirect Channel = "H5_REDIRECT"
	// ChannelPageRedirect sends a desktop browser to the provider's cashier page (Alipay page pay).
	ChannelPageRedirect Channel = "PAGE_REDIRECT"
	// ChannelApp hands signed parameters to the provider's SDK inside a native app.
	ChannelApp Channel = "APP"
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	switch c {
	case ChannelNativeQR, ChannelMiniProgram, ChannelH5Redirect, ChannelPageRedirect, ChannelApp:
		return true
	}
	return false
}

// Kind tells the client what to do with Instructions.
type Kind string

// The kinds of Instructions.
const (
	// KindQRCode: render QRCodeURL as a QR code.
	KindQRCode Kind = "QR_CODE"
	// KindMiniProgram: pass MiniProgramParams to the mini program's payment API.
	KindMiniProgram Kind = "MINI_PROGRAM"
	// KindRedirect: send the browser to RedirectURL.
	KindRedirect Kind = "REDIRECT"
	// KindApp: pass AppParams to the provider's app SDK.
	KindApp Kind = "APP"
)

// Outcome is the state of a payment as a provider reports it.
type Outcome string

// The outcomes. Notifications carry SUCCEEDED or FAILED in the common case; the others
// appear where a provider reports them (see the table in docs/PAYMENTS.md).
const (
	// OutcomeSucceeded: the money was collected.
	OutcomeSucceeded Outcome = "SUCCEEDED"
	// OutcomeFailed: the attempt failed (bank declined, user cancelled in the sandbox).
	OutcomeFailed Outcome = "FAILED"
	// OutcomePending: not paid yet (created, waiting for the customer, user paying).
	OutcomePending Outcome = "PENDING"
	// OutcomeClosed: the provider closed the trade without (remaining) money: unpaid
	// timeout, cancelled, or fully refunded (Alipay cannot tell the two apart in a query).
	OutcomeClosed Outcome = "CLOSED"
	// OutcomeRefunded: the provider reports refunds on a paid trade. Alipay sends these to
	// the payment notify URL after a refund; treat it as information, not a new payment.
	OutcomeRefunded Outcome = "REFUNDED"
	// OutcomeUnknown: the provider cannot say (the stateless sandbox's Query).
	OutcomeUnknown Outcome = "UNKNOWN"
)

// Provider is one payment provider behind the common interface. Implementations are safe
// for concurrent use and keep no state that matters between calls.
type Provider interface {
	// Name is the provider's stable name: "SANDBOX", "ALIPAY", "WECHAT", "QQ". It is what
	// the Ent field payment.provider stores and, lower-cased, the notify path segment.
	Name() string
	// Create asks the provider to start collecting req.Amount and returns what the client
	// needs to pay. Repeating it with the same PaymentRef is safe: the providers answer
	// the same order again, or decline (ErrDeclined) a ref already paid or used for
	// another amount — so use a new PaymentRef for a new attempt.
	Create(ctx context.Context, req CreateRequest) (*Instructions, error)
	// ParseNotification verifies that r is a genuine asynchronous notification from the
	// provider for our account and parses it. Errors wrap ErrInvalidSignature,
	// ErrUnknownKey, ErrExpired, ErrMismatch or ErrMalformed. It does not compare the
	// amount with the payment's: the caller must.
	ParseNotification(ctx context.Context, r *http.Request) (*Notification, error)
	// Acknowledge writes the reply the provider expects: success when err is nil,
	// otherwise a failure that makes the provider redeliver later. n may be nil.
	Acknowledge(w http.ResponseWriter, n *Notification, err error)
	// Query asks the provider for the payment's current state. It returns ErrNotFound
	// when the provider has no such payment.
	Query(ctx context.Context, paymentRef string) (*Status, error)
	// Refund returns req.Amount of the payment. Repeating a request with the same
	// RefundRef is safe: providers deduplicate it.
	Refund(ctx context.Context, req RefundRequest) (*RefundResult, error)
}

// CreateRequest asks a provider to collect one payment.
type CreateRequest struct {
	// PaymentRef is our out_trade_no: unique per provider account, 6–32 characters of
	// [A-Za-z0-9_-] (the intersection of what every provider accepts).
	PaymentRef string
	// Amount is what to collect; the real providers only take CNY.
	Amount money.Money
	// Method is the customer's choice; a provider refuses methods it does not serve.
	Method Method
	// Subject is the description shown to the customer; adapters cut it to the
	// provider's limit (QQ: 32 bytes, WeChat: 127 characters, Alipay: 256 characters).
	Subject string
	// Channel is where the customer pays.
	Channel Channel
	// ClientIP is the customer's IP (required by WeChat H5 and QQ).
	ClientIP string
	// OpenID identifies the payer to the provider in mini-program pay (WeChat openid,
	// Alipay buyer open id or 2088… user id).
	OpenID string
	// NotifyURL is where the provider posts the notification: an absolute http(s) URL,
	// normally Config.NotifyURL(provider.Name()).
	NotifyURL string
	// ReturnURL is where the browser goes after a redirect payment (optional).
	ReturnURL string
	// ExpiresAt closes the payment at the provider when unpaid by then (optional).
	ExpiresAt time.Time
}

var refPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{6,32}$`)

// ValidRef reports whether ref can be a PaymentRef or RefundRef at every provider.
func ValidRef(ref string) bool { return refPattern.MatchString(ref) }

// Validate checks what every provider needs; adapters check their own extra requirements.
func (r CreateRequest) Validate() error {
	switch {
	case !ValidRef(r.PaymentRef):
		return fmt.Errorf("%w: payment ref must be 6-32 characters of [A-Za-z0-9_-]", ErrInvalidRequest)
	case r.Amount.Minor <= 0:
		return fmt.Errorf("%w: amount must be positive", ErrInvalidRequest)
	case len(r.Amount.Currency) != 3 || strings.ToUpper(r.Amount.Currency) != r.Amount.Currency:
		return fmt.Errorf("%w: currency must be an upper-case ISO 4217 code", ErrInvalidRequest)
	case !r.Method.Valid():
		return fmt.Errorf("%w: unknown method %q", ErrInvalidRequest, r.Method)
	case !r.Channel.Valid():
		return fmt.Errorf("%w: unknown channel %q", ErrInvalidRequest, r.Channel)
	case strings.TrimSpace(r.Subject) == "":
		return fmt.Errorf("%w: subject is required", ErrInvalidRequest)
	case !absoluteHTTPURL(r.NotifyURL):
		return fmt.Errorf("%w: notify URL must be an absolute http(s) URL", ErrInvalidRequest)
	case r.ReturnURL != "" && !absoluteHTTPURL(r.ReturnURL):
		return fmt.Errorf("%w: return URL must be an absolute http(s) URL", ErrInvalidRequest)
	}
	return nil
}

func absoluteHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Instructions are what the client needs to pay; Kind says which fields are set.
type Instructions struct {
	Kind Kind
	// QRCodeURL is the content of the QR code to show (KindQRCode).
	QRCodeURL string
	// RedirectURL is where to send the browser (KindRedirect; the sandbox also sets it
	// for every kind, pointing at its pay page).
	RedirectURL string
	// MiniProgramParams are the arguments of the mini program's payment API (KindMiniProgram):
	// for WeChat appId, timeStamp, nonceStr, package, signType, paySign (wx.requestPayment);
	// for Alipay tradeNO (my.tradePay); for QQ package and bargainor_id (qq.requestPayment).
	MiniProgramParams map[string]string
	// AppParams are the arguments of the provider's app SDK (KindApp): for WeChat appid,
	// partnerid, prepayid, package, noncestr, timestamp, sign; for Alipay orderStr.
	AppParams map[string]string
	// ProviderRef is the provider's id for the payment when it assigns one at creation
	// (the same id its notifications carry); empty otherwise.
	ProviderRef string
}

// Notification is a verified asynchronous notification from a provider.
type Notification struct {
	// Provider is the Name of the provider that sent it.
	Provider string
	// PaymentRef is our out_trade_no; ProviderRef is the provider's transaction id.
	PaymentRef, ProviderRef string
	// Amount is the payment's total as the provider states it, exactly.
	Amount money.Money
	// Outcome is SUCCEEDED or FAILED, or one of the rarer outcomes the provider reports.
	Outcome Outcome
	// AppID and MerchantID are the account it was paid to (already checked against config).
	AppID, MerchantID string
	// PaidAt is when the provider says the customer paid (zero unless SUCCEEDED).
	PaidAt time.Time
	// Raw is the verified payload for the audit trail: the form or XML body, or for WeChat
	// the decrypted resource JSON.
	Raw []byte
}

// Status is a provider's answer to Query.
type Status struct {
	PaymentRef, ProviderRef string
	Outcome                 Outcome
	// Amount is the payment's total, when the provider reports it.
	Amount money.Money
	// PaidAt is when the customer paid, when the provider reports it.
	PaidAt time.Time
}

// RefundRequest asks a provider to return money of one payment.
type RefundRequest struct {
	// PaymentRef is the payment's out_trade_no; RefundRef is our unique refund id
	// (out_refund_no / out_request_no), which makes repeating the request safe.
	PaymentRef, RefundRef string
	// Amount is what to return now; Total is the payment's whole amount (WeChat requires it).
	Amount, Total money.Money
	// Reason is shown to the customer by some providers (optional).
	Reason string
}

// Validate checks what every provider needs.
func (r RefundRequest) Validate() error {
	switch {
	case !ValidRef(r.PaymentRef):
		return fmt.Errorf("%w: payment ref must be 6-32 characters of [A-Za-z0-9_-]", ErrInvalidRequest)
	case !ValidRef(r.RefundRef):
		return fmt.Errorf("%w: refund ref must be 6-32 characters of [A-Za-z0-9_-]", ErrInvalidRequest)
	case r.Amount.Minor <= 0:
		return fmt.Errorf("%w: refund amount must be positive", ErrInvalidRequest)
	case r.Amount.Currency != r.Total.Currency:
		return fmt.Errorf("%w: refund and total currencies differ", ErrInvalidRequest)
	case r.Amount.Minor > r.Total.Minor:
		return fmt.Errorf("%w: refund amount exceeds the payment total", ErrInvalidRequest)
	}
	return nil
}

// RefundResult is a provider's answer to Refund.
type RefundResult struct {
	RefundRef string
	// ProviderRefundRef is the provider's id for the refund (or its trade id when it has none).
	ProviderRefundRef string
	Amount            money.Money
	// Outcome is SUCCEEDED when the money has moved, PENDING when the provider accepted
	// the refund and moves the money later (WeChat PROCESSING, QQ).
	Outcome Outcome
}

// NotifyPath is the path at which the server receives provider's notifications:
// /payments/notify/sandbox, /payments/notify/alipay, …
func NotifyPath(providerName string) string {
	return "/payments/notify/" + strings.ToLower(providerName)
}

// Location of Beijing time, in which the Chinese providers write zone-less timestamps.
// China has had no daylight saving since 1991, so a fixed zone is exact and needs no tzdata.
var beijing = time.FixedZone("CST", 8*60*60)

// Beijing returns the zone of the providers' zone-less timestamps (UTC+8).
func Beijing() *time.Location { return beijing }
