package partners_test

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/partners"
)

const (
	createClient = `mutation($i: CreateApiClientInput!) { createApiClient(input: $i) {
	  clientSecret client { id clientID name scopes merchantIDs revokedAt lastUsedAt secretRotatedAt createdAt } } }`
	listClients  = `query($m: ID!) { apiClients(merchantID: $m) { id clientID name scopes merchantIDs revokedAt lastUsedAt } }`
	revokeClient = `mutation($id: ID!) { revokeApiClient(id: $id) { id revokedAt } }`
	rotateSecret = `mutation($id: ID!) { rotateApiClientSecret(id: $id) { clientSecret client { id clientID secretRotatedAt } } }`
	readOrder    = `query($id: ID!) { order(id: $id) { id number } }`
	ordersOf     = `query($m: ID!) { merchantOrders(merchantID: $m, first: 10) { totalCount edges { node { id } } } }`
)

// world is two shops, each with an owner and an order, staff of the first, and an admin.
type world struct {
	s                     *apitest.Server
	shop, rival           apitest.Merchant
	staff, admin          apitest.Session
	shopOrder, rivalOrder string
	tokenURL              string
}

func newWorld(t *testing.T, s *apitest.Server) *world {
	t.Helper()
	w := &world{s: s}
	w.shop = s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	w.rival = s.NewMerchant(t, "coffee-bar", merchant.StatusACTIVE)
	w.staff = s.AddStaff(t, w.shop, "packer@example.com")
	w.admin = s.NewAdmin(t, "admin@example.com")
	buyer := s.Register("buyer@example.com", "Buyer")
	w.shopOrder = w.order(t, w.shop, buyer)
	w.rivalOrder = w.order(t, w.rival, buyer)
	w.tokenURL = tokenEndpoint(t, s)
	return w
}

// tokenEndpoint is the server's POST /oauth/token when the app mounts it, or the same
// handler on a server of its own until then.
func tokenEndpoint(t *testing.T, s *apitest.Server) string {
	t.Helper()
	res, err := http.PostForm(s.HTTP.URL+"/oauth/token", url.Values{})
	if err == nil {
		var body struct{ Error string }
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if json.Unmarshal(raw, &body) == nil && body.Error == "invalid_request" {
			return s.HTTP.URL + "/oauth/token"
		}
	}
	a := s.App
	hs := httptest.NewServer(partners.NewTokenHandler(a.DB.Client, a.Auth.Tokens, a.Auth.Throttle, a.Auth.MaxFailures, a.Logger))
	t.Cleanup(hs.Close)
	return hs.URL + "/oauth/token"
}

// order has buyer place an order of a new product of m, and returns its id.
func (w *world) order(t *testing.T, m apitest.Merchant, buyer apitest.Session) string {
	t.Helper()
	sku := "SKU-" + strings.ToUpper(rand.Text()[:6])
	r := w.s.MustQuery(m.Owner.AccessToken,
		`mutation($i: CreateProductInput!) { createProduct(input: $i) { id variants { id } } }`,
		map[string]any{"i": map[string]any{"title": "龙井 " + sku, "kind": "VIRTUAL",
			"variants": []any{map[string]any{"sku": sku, "price": "50.00", "stock": 10}}}})
	var p struct {
		CreateProduct struct {
			ID       string
			Variants []struct{ ID string }
		}
	}
	r.Decode(t, &p)
	w.s.MustQuery(m.Owner.AccessToken, `mutation($id: ID!) { publishProduct(id: $id) { id } }`,
		map[string]any{"id": p.CreateProduct.ID})
	r = w.s.MustQuery(buyer.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { orders { id } } }`,
		map[string]any{"i": map[string]any{
			"lines":          []any{map[string]any{"variantID": p.CreateProduct.Variants[0].ID, "quantity": 1}},
			"contact":        map[string]any{"name": "Buyer", "phone": "13800000000"},
			"idempotencyKey": "key-" + rand.Text(),
		}})
	var o struct {
		PlaceOrder struct{ Orders []struct{ ID string } }
	}
	r.Decode(t, &o)
	if len(o.PlaceOrder.Orders) != 1 {
		t.Fatalf("placeOrder: %s", r.Raw)
	}
	return o.PlaceOrder.Orders[0].ID
}

// client is an API client as createApiClient returns it.
type client struct {
	ID, ClientID, Name, CreatedAt string
	Scopes, MerchantIDs           []string
	RevokedAt, LastUsedAt         *string
	SecretRotatedAt               *string
	Secret                        string
}

// create makes a client as the holder of token and fails the test on any error.
func (w *world) create(t *testing.T, token, name string, merchants, scopes []string) client {
	t.Helper()
	r := w.s.MustQuery(token, createClient, map[string]any{"i": map[string]any{"name": name, "merchantIDs": merchants, "scopes": scopes}})
	var out struct {
		CreateApiClient struct {
			ClientSecret string
			Client       client
		}
	}
	r.Decode(t, &out)
	c := out.CreateApiClient.Client
	c.Secret = out.CreateApiClient.ClientSecret
	return c
}

// tokenReply is what the token endpoint answered.
type tokenReply struct {
	Status int
	Header http.Header
	Body   struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
		Error       string `json:"error"`
	}
	Raw string
}

// exchange posts form to the token endpoint, with HTTP Basic credentials when user is set.
func (w *world) exchange(t *testing.T, form url.Values, user, pass string) tokenReply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.tokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) tokenReply {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := tokenReply{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	if err := json.Unmarshal(raw, &out.Body); err != nil {
		t.Fatalf("token endpoint answered %d with non-JSON %q", res.StatusCode, raw)
	}
	return out
}

// token exchanges a client's credentials (HTTP Basic) for an access token, with scope
// when not empty, and fails the test unless it gets one.
func (w *world) token(t *testing.T, c client, secret, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	r := w.exchange(t, form, c.ClientID, secret)
	if r.Status != http.StatusOK || r.Body.AccessToken == "" {
		t.Fatalf("token exchange: %d %s", r.Status, r.Raw)
	}
	return r.Body.AccessToken
}

// wantCode fails unless r's first error has code (and field, when given).
func wantCode(t *testing.T, what string, r *apitest.Response, code, field string) {
	t.Helper()
	if r.Code() != code || (field != "" && r.Field() != field) {
		t.Errorf("%s: code %q field %q, want %q %q: %s", what, r.Code(), r.Field(), code, field, r.Raw)
	}
}
