package sandbox

import (
	"crypto/hmac"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/payment"
)

// Ticket is what the pay page needs to know about a payment. It travels in the page URL,
// signed, so the page needs no storage and cannot be made to notify other amounts or URLs.
type Ticket struct {
	PaymentRef string
	Amount     money.Money
	Method     payment.Method
	Subject    string
	NotifyURL  string
	ReturnURL  string
	ExpiresAt  time.Time
}

func ticketFor(req payment.CreateRequest) Ticket {
	return Ticket{
		PaymentRef: req.PaymentRef, Amount: req.Amount, Method: req.Method, Subject: req.Subject,
		NotifyURL: req.NotifyURL, ReturnURL: req.ReturnURL, ExpiresAt: req.ExpiresAt,
	}
}

func (t Ticket) values() url.Values {
	v := url.Values{
		"ref":      {t.PaymentRef},
		"amount":   {strconv.FormatInt(t.Amount.Minor, 10)},
		"currency": {t.Amount.Currency},
		"method":   {string(t.Method)},
		"subject":  {t.Subject},
		"notify":   {t.NotifyURL},
	}
	if t.ReturnURL != "" {
		v.Set("return", t.ReturnURL)
	}
	if !t.ExpiresAt.IsZero() {
		v.Set("exp", strconv.FormatInt(t.ExpiresAt.Unix(), 10))
	}
	for k, x := range v {
		if x[0] == "" { // ParseTicket cannot tell empty from absent
			delete(v, k)
		}
	}
	return v
}

// PayURL is the absolute URL of the pay page for t, with its signature.
func (s *Sandbox) PayURL(t Ticket) string {
	v := t.values()
	v.Set("sig", s.mac(ticketContext, v.Encode()))
	return s.publicURL + PayPath + "?" + v.Encode()
}

// ParseTicket reads and verifies a ticket from the pay page's query or form.
func (s *Sandbox) ParseTicket(q url.Values) (Ticket, error) {
	sig := q.Get("sig")
	v := url.Values{}
	for _, k := range []string{"ref", "amount", "currency", "method", "subject", "notify", "return", "exp"} {
		if len(q[k]) > 1 {
			return Ticket{}, fmt.Errorf("%w: sandbox ticket: repeated %s", payment.ErrMalformed, k)
		}
		if x := q.Get(k); x != "" {
			v.Set(k, x)
		}
	}
	if !hmac.Equal([]byte(sig), []byte(s.mac(ticketContext, v.Encode()))) {
		return Ticket{}, fmt.Errorf("%w: sandbox ticket", payment.ErrInvalidSignature)
	}
	minor, err := strconv.ParseInt(v.Get("amount"), 10, 64)
	if err != nil {
		return Ticket{}, fmt.Errorf("%w: sandbox ticket amount", payment.ErrMalformed)
	}
	t := Ticket{
		PaymentRef: v.Get("ref"),
		Amount:     money.Money{Minor: minor, Currency: v.Get("currency")},
		Method:     payment.Method(v.Get("method")),
		Subject:    v.Get("subject"),
		NotifyURL:  v.Get("notify"),
		ReturnURL:  v.Get("return"),
	}
	if e := v.Get("exp"); e != "" {
		unix, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			return Ticket{}, fmt.Errorf("%w: sandbox ticket expiry", payment.ErrMalformed)
		}
		t.ExpiresAt = time.Unix(unix, 0)
	}
	return t, nil
}

// PayPage serves the sandbox pay page at PayPath: GET shows the payment with "Pay" and
// "Fail" buttons; POST sends the chosen notification to the ticket's notify URL (paying
// after the expiry is allowed, to test late payments) and then redirects to the return URL.
func (s *Sandbox) PayPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Frame-Options", "DENY")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			t, err := s.ParseTicket(r.URL.Query())
			if err != nil {
				http.Error(w, "invalid or tampered payment link", http.StatusBadRequest)
				return
			}
			s.render(w, http.StatusOK, pageData{Ticket: t, Form: r.URL.Query(), Expired: !t.ExpiresAt.IsZero() && s.now().After(t.ExpiresAt)})
		case http.MethodPost:
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			t, err := s.ParseTicket(r.PostForm)
			if err != nil {
				http.Error(w, "invalid or tampered payment link", http.StatusBadRequest)
				return
			}
			outcome := payment.Outcome(r.PostForm.Get("outcome"))
			if outcome != payment.OutcomeSucceeded && outcome != payment.OutcomeFailed {
				http.Error(w, "outcome must be SUCCEEDED or FAILED", http.StatusBadRequest)
				return
			}
			if err := s.Notify(r.Context(), t.PaymentRef, t.Amount, outcome, t.NotifyURL); err != nil {
				s.render(w, http.StatusBadGateway, pageData{Ticket: t, Done: true, Error: "The shop did not accept the notification; try again."})
				return
			}
			if t.ReturnURL != "" {
				http.Redirect(w, r, t.ReturnURL, http.StatusSeeOther)
				return
			}
			s.render(w, http.StatusOK, pageData{Ticket: t, Done: true, Outcome: outcome})
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

type pageData struct {
	Ticket  Ticket
	Form    url.Values
	Expired bool
	Done    bool
	Outcome payment.Outcome
	Error   string
}

func (s *Sandbox) render(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = pageTemplate.Execute(w, d)
}

var pageTemplate = template.Must(template.New("pay").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sandbox payment</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}
.amount{font-size:2rem;margin:.5rem 0}button{font-size:1rem;padding:.6rem 1.2rem;margin-right:.5rem}
.warn{color:#a60}.err{color:#b00}</style></head><body>
<p><strong>SANDBOX</strong> — no real money moves.</p>
<h1>{{.Ticket.Subject}}</h1>
<p class="amount">{{.Ticket.Amount.Formatted}}</p>
<p>Payment {{.Ticket.PaymentRef}} · {{.Ticket.Method}}</p>
{{if .Done}}
  {{if .Error}}<p class="err">{{.Error}}</p>{{else}}<p>Notification sent: {{.Outcome}}.</p>{{end}}
{{else}}
  {{if .Expired}}<p class="warn">This payment has expired; paying now simulates a late payment.</p>{{end}}
  <form method="post">
    {{range $k, $vs := .Form}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}
    <button name="outcome" value="SUCCEEDED">Pay</button>
    <button name="outcome" value="FAILED">Fail</button>
  </form>
{{end}}
</body></html>
`))
