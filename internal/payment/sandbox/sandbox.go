// Package sandbox is a stateless fake payment provider that behaves like the real ones:
// Create returns instructions pointing at its own pay page, and payment results arrive
// later as HMAC-signed asynchronous notifications. Everything it needs travels in signed
// messages, so it works across restarts and replicas. It moves no money.
package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/payment"
)

const (
	// Name is the provider's name.
	Name = "SANDBOX"
	// PayPath is the path of the sandbox pay page (served by PayPage).
	PayPath = "/payments/sandbox/pay"
	// SignatureHeader carries a notification's signature: t=<unix seconds>,n=<nonce>,v1=<hex HMAC-SHA256>.
	SignatureHeader = "X-Sandbox-Signature"
	// AccountID is the app id and merchant id the sandbox's notifications carry.
	AccountID = "sandbox"
	// DefaultTolerance is how far a notification's signing time may be from now.
	DefaultTolerance = 5 * time.Minute
)

// Domain-separation prefixes, so that a signature made for one purpose never verifies for another.
const (
	notifyContext = "xiadan-sandbox-notify.v1"
	ticketContext = "xiadan-sandbox-ticket.v1"
	refContext    = "xiadan-sandbox-ref.v1"
)

// maxBody bounds what ParseNotification reads.
const maxBody = 64 << 10

// Options configure a Sandbox.
type Options struct {
	// Secret is the HMAC key of tickets and notifications (at least 32 bytes), the same on
	// every replica.
	Secret []byte
	// PublicURL is this server's base URL, used to build pay page links.
	PublicURL string
	// Tolerance is how far a notification's signing time may be from now (DefaultTolerance).
	Tolerance time.Duration
	// HTTPClient sends notifications (a client with a 10s timeout by default).
	HTTPClient *http.Client
	// Now is the clock (time.Now by default).
	Now func() time.Time
}

// Sandbox is the sandbox provider. It is safe for concurrent use.
type Sandbox struct {
	secret    []byte
	publicURL string
	tolerance time.Duration
	client    *http.Client
	now       func() time.Time
}

var _ payment.Provider = (*Sandbox)(nil)

// New returns a sandbox provider.
func New(o Options) (*Sandbox, error) {
	if len(o.Secret) < 32 {
		return nil, errors.New("sandbox: the secret must be at least 32 bytes")
	}
	u, err := url.Parse(o.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("sandbox: the public URL must be an absolute http(s) URL")
	}
	s := &Sandbox{
		secret:    bytes.Clone(o.Secret),
		publicURL: strings.TrimSuffix(o.PublicURL, "/"),
		tolerance: o.Tolerance,
		client:    o.HTTPClient,
		now:       o.Now,
	}
	if s.tolerance <= 0 {
		s.tolerance = DefaultTolerance
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second}
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Name returns "SANDBOX".
func (s *Sandbox) Name() string { return Name }

// ProviderRef is the sandbox's transaction id for a payment: derived from the ref with
// the secret, so every replica computes the same one without remembering it.
func (s *Sandbox) ProviderRef(paymentRef string) string {
	return "SBX" + strings.ToUpper(s.mac(refContext, paymentRef)[:24])
}

// Create returns instructions pointing at the sandbox pay page, in the shape the real
// provider would use for the channel. RedirectURL is always the pay page, so a
// development client can open it whatever the kind.
func (s *Sandbox) Create(_ context.Context, req payment.CreateRequest) (*payment.Instructions, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	page := s.PayURL(ticketFor(req))
	in := &payment.Instructions{RedirectURL: page, ProviderRef: s.ProviderRef(req.PaymentRef)}
	switch req.Channel {
	case payment.ChannelNativeQR:
		in.Kind, in.QRCodeURL = payment.KindQRCode, page
	case payment.ChannelH5Redirect, payment.ChannelPageRedirect:
		in.Kind = payment.KindRedirect
	case payment.ChannelMiniProgram:
		in.Kind = payment.KindMiniProgram
		in.MiniProgramParams = s.miniProgramParams(in.ProviderRef)
	case payment.ChannelApp:
		in.Kind = payment.KindApp
		in.AppParams = map[string]string{"payUrl": page, "prepayid": in.ProviderRef}
	}
	return in, nil
}

// miniProgramParams mimics wx.requestPayment's arguments, signed with the sandbox secret.
func (s *Sandbox) miniProgramParams(providerRef string) map[string]string {
	p := map[string]string{
		"appId":     AccountID,
		"timeStamp": strconv.FormatInt(s.now().Unix(), 10),
		"nonceStr":  nonce(),
		"package":   "prepay_id=" + providerRef,
		"signType":  "HMAC-SHA256",
	}
	p["paySign"] = s.mac(p["appId"], p["timeStamp"], p["nonceStr"], p["package"])
	return p
}

// Event describes a notification to build.
type Event struct {
	PaymentRef string
	Amount     money.Money
	// Outcome is SUCCEEDED or FAILED.
	Outcome payment.Outcome
	// PaidAt is when the customer paid (default now for SUCCEEDED). It may be long past
	// or after the payment expired: only SignedAt must be recent.
	PaidAt time.Time
	// SignedAt is the signing time (default now); set it in the past to build a stale one.
	SignedAt time.Time
	// ProviderRef defaults to ProviderRef(PaymentRef).
	ProviderRef string
}

// Signed is a signed notification: the exact body and the SignatureHeader value.
type Signed struct {
	Body      []byte
	Signature string
}

// Request returns the POST that delivers n to notifyURL.
func (n *Signed) Request(ctx context.Context, notifyURL string) (*http.Request, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, notifyURL, bytes.NewReader(n.Body))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(SignatureHeader, n.Signature)
	return r, nil
}

// wireNotification is the JSON body of a notification. Amounts are integer minor units.
type wireNotification struct {
	PaymentRef  string `json:"payment_ref"`
	ProviderRef string `json:"provider_ref"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Outcome     string `json:"outcome"`
	PaidAt      string `json:"paid_at,omitempty"`
	AppID       string `json:"app_id"`
	MerchantID  string `json:"merchant_id"`
}

// BuildNotification builds a signed notification without sending it — for tests of
// duplicates, out-of-order, late, stale and tampered deliveries.
func (s *Sandbox) BuildNotification(e Event) (*Signed, error) {
	if !payment.ValidRef(e.PaymentRef) {
		return nil, fmt.Errorf("%w: invalid payment ref", payment.ErrInvalidRequest)
	}
	if e.Outcome != payment.OutcomeSucceeded && e.Outcome != payment.OutcomeFailed {
		return nil, fmt.Errorf("%w: sandbox outcome must be SUCCEEDED or FAILED", payment.ErrInvalidRequest)
	}
	now := s.now()
	w := wireNotification{
		PaymentRef:  e.PaymentRef,
		ProviderRef: e.ProviderRef,
		Amount:      e.Amount.Minor,
		Currency:    e.Amount.Currency,
		Outcome:     string(e.Outcome),
		AppID:       AccountID,
		MerchantID:  AccountID,
	}
	if w.ProviderRef == "" {
		w.ProviderRef = s.ProviderRef(e.PaymentRef)
	}
	if e.Outcome == payment.OutcomeSucceeded {
		paid := e.PaidAt
		if paid.IsZero() {
			paid = now
		}
		w.PaidAt = paid.UTC().Format(time.RFC3339Nano)
	}
	body, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	signed := e.SignedAt
	if signed.IsZero() {
		signed = now
	}
	ts, n := strconv.FormatInt(signed.Unix(), 10), nonce()
	return &Signed{Body: body, Signature: "t=" + ts + ",n=" + n + ",v1=" + s.mac(notifyContext, ts, n, string(body))}, nil
}

// Notify builds a notification that the payment ref reached outcome and POSTs it to
// notifyURL, as the real providers do asynchronously. Any non-2xx answer is an error.
func (s *Sandbox) Notify(ctx context.Context, ref string, amount money.Money, outcome payment.Outcome, notifyURL string) error {
	n, err := s.BuildNotification(Event{PaymentRef: ref, Amount: amount, Outcome: outcome})
	if err != nil {
		return err
	}
	return s.Send(ctx, n, notifyURL)
}

// Send POSTs a built notification to notifyURL.
func (s *Sandbox) Send(ctx context.Context, n *Signed, notifyURL string) error {
	r, err := n.Request(ctx, notifyURL)
	if err != nil {
		return fmt.Errorf("sandbox: notify: %w", err)
	}
	res, err := s.client.Do(r)
	if err != nil {
		return fmt.Errorf("%w: sandbox notify: %v", payment.ErrProvider, err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxBody))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%w: sandbox notify answered HTTP %d", payment.ErrProvider, res.StatusCode)
	}
	return nil
}

// ParseNotification verifies the signature and the signing time (within the tolerance;
// the payment time may be anything) and parses the notification.
func (s *Sandbox) ParseNotification(_ context.Context, r *http.Request) (*payment.Notification, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: sandbox: reading body: %v", payment.ErrMalformed, err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("%w: sandbox: body too large", payment.ErrMalformed)
	}
	ts, n, sigs, err := parseSignatureHeader(r.Header.Get(SignatureHeader))
	if err != nil {
		return nil, err
	}
	want := s.mac(notifyContext, ts, n, string(body))
	ok := false
	for _, sig := range sigs {
		if hmac.Equal([]byte(sig), []byte(want)) {
			ok = true
		}
	}
	if !ok {
		return nil, fmt.Errorf("%w: sandbox: signature does not match", payment.ErrInvalidSignature)
	}
	unix, _ := strconv.ParseInt(ts, 10, 64) // digits checked by parseSignatureHeader
	if d := s.now().Sub(time.Unix(unix, 0)); d > s.tolerance || d < -s.tolerance {
		return nil, fmt.Errorf("%w: sandbox: signed %s from now", payment.ErrExpired, d.Round(time.Second))
	}
	var w wireNotification
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: sandbox: %v", payment.ErrMalformed, err)
	}
	if w.AppID != AccountID || w.MerchantID != AccountID {
		return nil, fmt.Errorf("%w: sandbox: app %q merchant %q", payment.ErrMismatch, w.AppID, w.MerchantID)
	}
	out := &payment.Notification{
		Provider:    Name,
		PaymentRef:  w.PaymentRef,
		ProviderRef: w.ProviderRef,
		Amount:      money.Money{Minor: w.Amount, Currency: w.Currency},
		Outcome:     payment.Outcome(w.Outcome),
		AppID:       w.AppID,
		MerchantID:  w.MerchantID,
		Raw:         body,
	}
	switch {
	case !payment.ValidRef(w.PaymentRef) || w.ProviderRef == "":
		return nil, fmt.Errorf("%w: sandbox: missing or invalid refs", payment.ErrMalformed)
	case w.Amount <= 0 || !currencyPattern.MatchString(w.Currency):
		return nil, fmt.Errorf("%w: sandbox: invalid amount", payment.ErrMalformed)
	case out.Outcome != payment.OutcomeSucceeded && out.Outcome != payment.OutcomeFailed:
		return nil, fmt.Errorf("%w: sandbox: unknown outcome %q", payment.ErrMalformed, w.Outcome)
	}
	if out.Outcome == payment.OutcomeSucceeded {
		if out.PaidAt, err = time.Parse(time.RFC3339Nano, w.PaidAt); err != nil {
			return nil, fmt.Errorf("%w: sandbox: paid_at %q", payment.ErrMalformed, w.PaidAt)
		}
	}
	return out, nil
}

// currencyPattern is an ISO 4217 code as the API spells them: three upper-case letters.
var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// noncePattern keeps the nonce free of the newline that separates the signed parts.
var noncePattern = regexp.MustCompile(`^[0-9A-Za-z_-]{8,64}$`)

// parseSignatureHeader reads "t=<digits>,n=<nonce>,v1=<hex>[,v1=<hex>…]".
func parseSignatureHeader(h string) (ts, n string, sigs []string, err error) {
	if h == "" {
		return "", "", nil, fmt.Errorf("%w: sandbox: no %s header", payment.ErrInvalidSignature, SignatureHeader)
	}
	for part := range strings.SplitSeq(h, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "n":
			n = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if _, perr := strconv.ParseUint(ts, 10, 63); perr != nil || !noncePattern.MatchString(n) || len(sigs) == 0 {
		return "", "", nil, fmt.Errorf("%w: sandbox: malformed %s header", payment.ErrInvalidSignature, SignatureHeader)
	}
	return ts, n, sigs, nil
}

// Acknowledge answers 200 {"received":true}, or the Rejection status with {"error":…}.
func (s *Sandbox) Acknowledge(w http.ResponseWriter, _ *payment.Notification, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err == nil {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"received":true}`)
		return
	}
	status, reason := payment.Rejection(err)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": reason})
}

// Query cannot know anything: the sandbox keeps no state, so the caller's record is the
// truth. It reports OutcomeUnknown with the derived provider ref.
func (s *Sandbox) Query(_ context.Context, paymentRef string) (*payment.Status, error) {
	if !payment.ValidRef(paymentRef) {
		return nil, fmt.Errorf("%w: invalid payment ref", payment.ErrInvalidRequest)
	}
	return &payment.Status{PaymentRef: paymentRef, ProviderRef: s.ProviderRef(paymentRef), Outcome: payment.OutcomeUnknown}, nil
}

// Refund succeeds at once with a derived refund id — except that an amount whose minor
// units end in 99 (¥0.99, ¥12.99…) is declined with ErrDeclined, to test refund failures.
func (s *Sandbox) Refund(_ context.Context, req payment.RefundRequest) (*payment.RefundResult, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if req.Amount.Minor%100 == 99 {
		return nil, fmt.Errorf("%w: sandbox declines refunds of amounts ending in 99 (simulated failure)", payment.ErrDeclined)
	}
	return &payment.RefundResult{
		RefundRef:         req.RefundRef,
		ProviderRefundRef: "SBXR" + strings.ToUpper(s.mac(refContext, req.PaymentRef, req.RefundRef)[:24]),
		Amount:            req.Amount,
		Outcome:           payment.OutcomeSucceeded,
	}, nil
}

// mac is the hex HMAC-SHA256 of the parts joined by newlines.
func (s *Sandbox) mac(parts ...string) string {
	h := hmac.New(sha256.New, s.secret)
	_, _ = io.WriteString(h, strings.Join(parts, "\n"))
	return hex.EncodeToString(h.Sum(nil))
}

func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
