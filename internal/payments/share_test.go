package payments_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
)

// paymentOfOrder reads, as token, the payments of an order and a payment by id.
const paymentOfOrder = `query($o: ID!, $p: ID!) {
  order(id: $o) { payments { ` + paymentFields + ` } }
  node(id: $p) { ... on Payment { ` + paymentFields + ` } }
}`

// seenPayment is a payment as a viewer saw it through the order and through node(id:).
func seenPayment(t *testing.T, f *fixture, token, orderID, paymentID string) (paymentResult, *apitest.Response) {
	t.Helper()
	r := f.s.MustQuery(token, paymentOfOrder, map[string]any{"o": orderID, "p": paymentID})
	var out struct {
		Order struct{ Payments []paymentResult }
		Node  paymentResult
	}
	r.Decode(t, &out)
	if len(out.Order.Payments) != 1 {
		t.Fatalf("payments of the order: %s", r.Raw)
	}
	if a, b := out.Order.Payments[0], out.Node; a.Amount != b.Amount || a.Status != b.Status ||
		a.RefundedAmount != b.RefundedAmount || len(a.Refunds) != len(b.Refunds) || len(a.Orders) != len(b.Orders) {
		t.Fatalf("the order's payment and node(id:) disagree: %s", r.Raw)
	}
	return out.Node, r
}

// A checkout with orders of two merchants is paid by one payment. Each merchant — staff or
// partner client — sees that payment as if it paid only its own order: its own amount,
// its own refunds, a status that follows them, and neither the pay instructions (whose
// subject names the other shop's order number) nor anything of the other order.
func TestMerchantsSeeOnlyTheirShareOfAPayment(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		f := newFixture(t, s)
		co := f.place(t, 2, 1) // tea: 2 × 25.50 + 10.00 = 61.00; cups: 40.00 + 10.00 = 50.00
		tea, cups := co.Orders[0], co.Orders[1]
		if tea.Total.Amount != "61.00" || cups.Total.Amount != "50.00" {
			t.Fatalf("placed %+v", co)
		}
		p := f.mustPay(t, f.payInput(co.CheckoutID))
		f.mustComplete(t, p.ID, "SUCCEEDED")
		teaStaff := s.AddStaff(t, f.tea.Merchant, "packer@tea.example.com")
		partner := partnerToken(t, s, f.tea.Merchant, "orders:read")

		// The cups merchant refunds part of its order.
		if r := f.mustRefund(t, f.cups.Owner.AccessToken, cups.ID, ptr("10.00")); r.Amount.Amount != "10.00" {
			t.Fatalf("refund %+v", r)
		}

		type want struct{ amount, refunded, status string }
		for _, tc := range []struct {
			name, token, order string
			want               want
			orders, refunds    int
			whole              bool
		}{
			{"buyer", f.buyer.AccessToken, tea.ID, want{"111.00", "10.00", "PARTIALLY_REFUNDED"}, 2, 1, true},
			{"admin", f.admin(t), tea.ID, want{"111.00", "10.00", "PARTIALLY_REFUNDED"}, 2, 1, true},
			{"tea owner", f.tea.Owner.AccessToken, tea.ID, want{"61.00", "0.00", "SUCCEEDED"}, 1, 0, false},
			{"tea staff", teaStaff.AccessToken, tea.ID, want{"61.00", "0.00", "SUCCEEDED"}, 1, 0, false},
			{"tea partner client", partner, tea.ID, want{"61.00", "0.00", "SUCCEEDED"}, 1, 0, false},
			{"cups owner", f.cups.Owner.AccessToken, cups.ID, want{"50.00", "10.00", "PARTIALLY_REFUNDED"}, 1, 1, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, r := seenPayment(t, f, tc.token, tc.order, p.ID)
				if (want{got.Amount.Amount, got.RefundedAmount.Amount, got.Status}) != tc.want ||
					len(got.Orders) != tc.orders || len(got.Refunds) != tc.refunds {
					t.Fatalf("saw %+v, want %+v with %d orders and %d refunds", got, tc.want, tc.orders, tc.refunds)
				}
				if tc.whole != (got.Instructions != nil) {
					t.Fatalf("instructions shown: %v, want %v: %s", got.Instructions != nil, tc.whole, r.Raw)
				}
				if tc.whole {
					return
				}
				// Nothing of the other merchant's order: neither its number (which the pay
				// page's subject carries), nor its amounts, nor the checkout total.
				other := cups
				if tc.order == cups.ID {
					other = tea
				}
				for _, leak := range []string{other.Number, other.ID, other.Total.Amount, "111.00"} {
					if strings.Contains(string(r.Data), `"`+leak+`"`) {
						t.Fatalf("%s sees %q of the other merchant: %s", tc.name, leak, r.Raw)
					}
				}
			})
		}

		// The other merchant's refund is not found, by id, for the tea merchant.
		var refunds struct {
			Node struct {
				Refunds []struct{ ID string }
			}
		}
		f.s.MustQuery(f.buyer.AccessToken, `query($p: ID!) { node(id: $p) { ... on Payment { refunds { id } } } }`,
			map[string]any{"p": p.ID}).Decode(t, &refunds)
		if len(refunds.Node.Refunds) != 1 {
			t.Fatalf("buyer's refunds: %+v", refunds)
		}
		refundID := refunds.Node.Refunds[0].ID
		for name, token := range map[string]string{"tea owner": f.tea.Owner.AccessToken, "tea partner": partner} {
			r := f.s.MustQuery(token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": refundID})
			if string(r.Data) != `{"node":null}` {
				t.Errorf("%s reads the cups refund: %s", name, r.Raw)
			}
		}
		if r := f.s.MustQuery(f.cups.Owner.AccessToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": refundID}); !r.Contains(refundID) {
			t.Errorf("cups owner cannot read its own refund: %s", r.Raw)
		}

		// Refunding the rest of the cups order refunds the cups share in full: REFUNDED
		// for the cups merchant, untouched for the tea merchant.
		f.mustRefund(t, f.cups.Owner.AccessToken, cups.ID, nil)
		if got, _ := seenPayment(t, f, f.cups.Owner.AccessToken, cups.ID, p.ID); got.Status != "REFUNDED" || got.RefundedAmount.Amount != "50.00" {
			t.Fatalf("cups after a full refund: %+v", got)
		}
		if got, _ := seenPayment(t, f, f.tea.Owner.AccessToken, tea.ID, p.ID); got.Status != "SUCCEEDED" || got.RefundedAmount.Amount != "0.00" {
			t.Fatalf("tea after the cups refund: %+v", got)
		}
		if got := f.payment(t, p.ID); got.Status != "PARTIALLY_REFUNDED" || got.RefundedAmount.Amount != "50.00" {
			t.Fatalf("buyer after the cups refund: %+v", got)
		}
	})
}

// partnerToken creates an API client of m with scope and exchanges its credentials.
func partnerToken(t *testing.T, s *apitest.Server, m apitest.Merchant, scope string) string {
	t.Helper()
	r := s.MustQuery(m.Owner.AccessToken, `mutation($i: CreateApiClientInput!) { createApiClient(input: $i) { clientSecret client { clientID } } }`,
		map[string]any{"i": map[string]any{"name": "ERP", "merchantIDs": []string{m.ID}, "scopes": []string{scope}}})
	var out struct {
		CreateApiClient struct {
			ClientSecret string
			Client       struct{ ClientID string }
		}
	}
	r.Decode(t, &out)
	req, _ := http.NewRequest(http.MethodPost, s.HTTP.URL+"/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(out.CreateApiClient.Client.ClientID), url.QueryEscape(out.CreateApiClient.ClientSecret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token exchange: %d %v", res.StatusCode, err)
	}
	return tok.AccessToken
}
