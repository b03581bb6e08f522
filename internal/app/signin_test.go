package app_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

const (
	meIdentities   = `{ me { id email hasPassword identities { id provider appID openID unionID } } }`
	requestCode    = `mutation($p: String!) { requestPhoneCode(phone: $p) { phone verificationID expiresAt resendAfter } }`
	phoneSignIn    = `mutation($i: PhoneSignInInput!) { signInWithPhone(input: $i) { accessToken refreshToken user { id email } } }`
	linkPhone      = `mutation($i: PhoneSignInInput!) { linkPhone(input: $i) { id provider openID } }`
	linkMini       = `mutation($i: MiniProgramSignInInput!) { linkMiniProgram(input: $i) { id provider appID openID } }`
	payMini        = `mutation($i: PayOrderInput!) { payOrder(input: $i) { id status instructions } }`
	completeSandbx = `mutation($id: ID!) { sandboxCompletePayment(paymentID: $id, outcome: SUCCEEDED) { id } }`
	orderStatus    = `query($id: ID!) { node(id: $id) { ... on Order { status } } }`
)

type identityView struct {
	ID, Provider, AppID, OpenID string
	UnionID                     *string
}

func identitiesOf(t *testing.T, s *apitest.Server, token string) (email *string, hasPassword bool, ids []identityView) {
	t.Helper()
	var out struct {
		Me struct {
			Email       *string
			HasPassword bool
			Identities  []identityView
		}
	}
	s.MustQuery(token, meIdentities, nil).Decode(t, &out)
	return out.Me.Email, out.Me.HasPassword, out.Me.Identities
}

// requestPhone asks for a code for phone and returns the verification id and the code
// read from the development outbox.
func requestPhone(t *testing.T, s *apitest.Server, phone string) (e164, verification, code string) {
	t.Helper()
	var out struct {
		RequestPhoneCode struct{ Phone, VerificationID string }
	}
	s.MustQuery("", requestCode, map[string]any{"p": phone}).Decode(t, &out)
	return out.RequestPhoneCode.Phone, out.RequestPhoneCode.VerificationID, s.PhoneCode(t, out.RequestPhoneCode.Phone)
}

// buyAndPayInMiniProgram places an order for one unit of variant as token and pays it
// with WeChat Pay in the mini program (the sandbox), returning the order's status after.
func buyAndPayInMiniProgram(t *testing.T, s *apitest.Server, token, variant, key string) string {
	t.Helper()
	var placed struct {
		PlaceOrder struct {
			CheckoutID string
			Orders     []struct{ ID string }
		}
	}
	s.MustQuery(token, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { checkoutID orders { id } } }`,
		map[string]any{"i": map[string]any{
			"lines": []map[string]any{{"variantID": variant, "quantity": 1}},
			"shippingAddress": map[string]any{"recipientName": "李雷", "phone": "13800138000",
				"province": "浙江省", "city": "杭州市", "street": "西湖路 1 号"},
			"idempotencyKey": key + "-place",
		}}).Decode(t, &placed)
	var paid struct {
		PayOrder struct {
			ID           string
			Instructions map[string]any
		}
	}
	s.MustQuery(token, payMini, map[string]any{"i": map[string]any{"checkoutID": placed.PlaceOrder.CheckoutID,
		"method": "WECHAT_PAY", "channel": "MINI_PROGRAM", "idempotencyKey": key + "-pay"}}).Decode(t, &paid)
	if paid.PayOrder.Instructions["kind"] != "MINI_PROGRAM" || paid.PayOrder.Instructions["miniProgramParams"] == nil {
		t.Fatalf("instructions: %v", paid.PayOrder.Instructions)
	}
	s.MustQuery(token, completeSandbx, map[string]any{"id": paid.PayOrder.ID})
	var st struct{ Node struct{ Status string } }
	s.MustQuery(token, orderStatus, map[string]any{"id": placed.PlaceOrder.Orders[0].ID}).Decode(t, &st)
	return st.Node.Status
}

func newTeaShop(t *testing.T, s *apitest.Server) string {
	t.Helper()
	m := s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	_, v := s.NewProduct(t, m, "龙井", product.KindPHYSICAL, "tea-1", 2550, 100)
	return strconv.Itoa(v)
}

// TestMiniProgramSignInPlacesAndPaysAnOrder: a WeChat mini-program sign-in creates an
// account on first use and the same one after, and pays with MINI_PROGRAM as its own
// identity; a foreign openid is refused.
func TestMiniProgramSignInPlacesAndPaysAnOrder(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		variant := newTeaShop(t, s)
		ann := s.SignInMini(t, "WECHAT", "ann")
		if again := s.SignInMini(t, "WECHAT", "ann"); again.UserID != ann.UserID {
			t.Fatalf("second sign-in made account %s, first %s", again.UserID, ann.UserID)
		}
		email, hasPassword, ids := identitiesOf(t, s, ann.AccessToken)
		if email != nil || hasPassword || len(ids) != 1 || ids[0].Provider != "WECHAT" || ids[0].AppID != "sandbox-mini" || ids[0].UnionID == nil {
			t.Fatalf("new account: email %v password %v identities %+v", email, hasPassword, ids)
		}
		// Someone else's openid is not accepted as the payer.
		bob := s.SignInMini(t, "WECHAT", "bob")
		_, _, bobIDs := identitiesOf(t, s, bob.AccessToken)
		r := s.Query(ann.AccessToken, payMini, map[string]any{"i": map[string]any{"orderIDs": []string{"1"},
			"method": "WECHAT_PAY", "channel": "MINI_PROGRAM", "openID": bobIDs[0].OpenID, "idempotencyKey": "foreign-openid"}})
		if r.Code() == "" {
			t.Fatalf("paying for an order that does not exist worked: %s", r.Raw)
		}
		if got := buyAndPayInMiniProgram(t, s, ann.AccessToken, variant, "ann-1"); got != string(order.StatusPAID) {
			t.Fatalf("order after paying: %s", got)
		}
		t.Run("a foreign openid is refused", func(t *testing.T) {
			var placed struct{ PlaceOrder struct{ CheckoutID string } }
			s.MustQuery(ann.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { checkoutID } }`,
				map[string]any{"i": map[string]any{"lines": []map[string]any{{"variantID": variant, "quantity": 1}},
					"shippingAddress": map[string]any{"recipientName": "李雷", "phone": "13800138000", "province": "浙江省", "city": "杭州市", "street": "西湖路 1 号"},
					"idempotencyKey":  "ann-2-place"}}).Decode(t, &placed)
			r := s.Query(ann.AccessToken, payMini, map[string]any{"i": map[string]any{"checkoutID": placed.PlaceOrder.CheckoutID,
				"method": "WECHAT_PAY", "channel": "MINI_PROGRAM", "openID": bobIDs[0].OpenID, "idempotencyKey": "ann-2-pay"}})
			if r.Code() != "BAD_USER_INPUT" || r.Field() != "openID" || reason(r) != "NOT_YOUR_IDENTITY" {
				t.Fatalf("paying as bob's openid: %s", r.Raw)
			}
			r = s.Query(ann.AccessToken, payMini, map[string]any{"i": map[string]any{"checkoutID": placed.PlaceOrder.CheckoutID,
				"method": "ALIPAY", "channel": "MINI_PROGRAM", "idempotencyKey": "ann-2-alipay"}})
			if r.Code() != "BAD_USER_INPUT" || reason(r) != "NO_IDENTITY" {
				t.Fatalf("paying in an app without an identity: %s", r.Raw)
			}
		})
		t.Run("platform refusals", func(t *testing.T) {
			for _, tc := range []struct{ code, want, field string }{
				{"invalid-code", "BAD_USER_INPUT", "code"},
				{"rate-limited", "RATE_LIMITED", ""},
				{"not a code!", "BAD_USER_INPUT", "code"},
			} {
				r := s.Query("", `mutation($i: MiniProgramSignInInput!) { signInWithMiniProgram(input: $i) { accessToken } }`,
					map[string]any{"i": map[string]any{"platform": "QQ", "code": tc.code}})
				if r.Code() != tc.want || r.Field() != tc.field {
					t.Errorf("code %q: %s", tc.code, r.Raw)
				}
			}
		})
	})
}

// TestPhoneSignInPlacesAndPaysAnOrder: an SMS code (from the development outbox) signs
// in and creates the account; the account links a mini program and pays in it.
func TestPhoneSignInPlacesAndPaysAnOrder(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		variant := newTeaShop(t, s)
		phone, verification, code := requestPhone(t, s, "138 0013 8000")
		if phone != "+8613800138000" {
			t.Fatalf("normalised to %q", phone)
		}
		wrong := strconv.Itoa((mustAtoi(t, code)+1)%1000000 + 1000000)[1:]
		r := s.Query("", phoneSignIn, map[string]any{"i": map[string]any{"phone": phone, "verificationID": verification, "code": wrong}})
		if reason(r) != "CODE_WRONG" || r.Errors[0].Extensions["attemptsLeft"] != float64(4) {
			t.Fatalf("wrong code: %s", r.Raw)
		}
		r = s.Query("", phoneSignIn, map[string]any{"i": map[string]any{"phone": phone, "verificationID": "someone-elses", "code": code}})
		if reason(r) != "CODE_EXPIRED" {
			t.Fatalf("code with another verification id: %s", r.Raw)
		}
		sess := apitest.SessionOf(t, s.MustQuery("", phoneSignIn, map[string]any{"i": map[string]any{
			"phone": "13800138000", "verificationID": verification, "code": code}}), "signInWithPhone")
		r = s.Query("", phoneSignIn, map[string]any{"i": map[string]any{"phone": phone, "verificationID": verification, "code": code}})
		if reason(r) != "CODE_EXPIRED" {
			t.Fatalf("a code used twice: %s", r.Raw)
		}
		if r := s.Query("", requestCode, map[string]any{"p": phone}); r.Code() != "RATE_LIMITED" {
			t.Fatalf("resend within the cool-down: %s", r.Raw)
		}
		_, _, ids := identitiesOf(t, s, sess.AccessToken)
		if len(ids) != 1 || ids[0].Provider != "PHONE" || ids[0].OpenID != phone {
			t.Fatalf("identities: %+v", ids)
		}
		// Without a WeChat identity there is no payer in the mini program.
		var placed struct{ PlaceOrder struct{ CheckoutID string } }
		s.MustQuery(sess.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { checkoutID } }`,
			map[string]any{"i": map[string]any{"lines": []map[string]any{{"variantID": variant, "quantity": 1}},
				"shippingAddress": map[string]any{"recipientName": "李雷", "phone": "13800138000", "province": "浙江省", "city": "杭州市", "street": "西湖路 1 号"},
				"idempotencyKey":  "phone-0-place"}}).Decode(t, &placed)
		r = s.Query(sess.AccessToken, payMini, map[string]any{"i": map[string]any{"checkoutID": placed.PlaceOrder.CheckoutID,
			"method": "WECHAT_PAY", "channel": "MINI_PROGRAM", "idempotencyKey": "phone-0-pay"}})
		if reason(r) != "NO_IDENTITY" {
			t.Fatalf("paying in the mini program without its identity: %s", r.Raw)
		}
		s.MustQuery(sess.AccessToken, linkMini, map[string]any{"i": map[string]any{"platform": "WECHAT", "code": "dora"}})
		if got := buyAndPayInMiniProgram(t, s, sess.AccessToken, variant, "phone-1"); got != string(order.StatusPAID) {
			t.Fatalf("order after paying: %s", got)
		}
		if again := s.SignInMini(t, "WECHAT", "dora"); again.UserID != sess.UserID {
			t.Fatalf("the linked mini program signs in to %s, not %s", again.UserID, sess.UserID)
		}
	})
}

// startWeb starts a web sign-in of platform as token (link when token is set) and returns
// the state, the browser secret and the code the sandbox page gives name.
func startWeb(t *testing.T, s *apitest.Server, token, platform, name string) (state, browser, code string) {
	t.Helper()
	var out struct {
		StartWebSignIn struct{ AuthorizeURL, State, BrowserSecret string }
	}
	s.MustQuery(token, `mutation($i: StartWebSignInInput!) { startWebSignIn(input: $i) { authorizeURL state browserSecret expiresAt } }`,
		map[string]any{"i": map[string]any{"platform": platform, "redirectURI": "http://localhost:3000/callback", "link": token != ""}}).Decode(t, &out)
	back := apitest.FollowSandboxPage(t, out.StartWebSignIn.AuthorizeURL, name)
	if back.Get("state") != out.StartWebSignIn.State {
		t.Fatalf("the page returned state %q", back.Get("state"))
	}
	return out.StartWebSignIn.State, out.StartWebSignIn.BrowserSecret, back.Get("code")
}

const finishWeb = `mutation($i: FinishWebSignInInput!) { finishWebSignIn(input: $i) { accessToken refreshToken user { id email } } }`

// TestIdentityMergeRules: a union id joins the same person's web sign-in to their
// mini-program account; identities and phones of another account are refused, never
// merged; the last way in cannot be unlinked; identities are visible to their owner only.
func TestIdentityMergeRules(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		carol := s.SignInMini(t, "WECHAT", "carol")
		state, browser, code := startWeb(t, s, "", "WECHAT", "carol")
		t.Run("the state is bound to the browser and works once", func(t *testing.T) {
			r := s.Query("", finishWeb, map[string]any{"i": map[string]any{"state": state, "code": code, "browserSecret": "another-browser"}})
			if reason(r) != "STATE_INVALID" {
				t.Fatalf("another browser: %s", r.Raw)
			}
		})
		web := apitest.SessionOf(t, s.MustQuery("", finishWeb, map[string]any{"i": map[string]any{"state": state, "code": code, "browserSecret": browser}}), "finishWebSignIn")
		if web.UserID != carol.UserID {
			t.Fatalf("the same union id made account %s besides %s", web.UserID, carol.UserID)
		}
		if r := s.Query("", finishWeb, map[string]any{"i": map[string]any{"state": state, "code": code, "browserSecret": browser}}); reason(r) != "STATE_INVALID" {
			t.Fatalf("a state used twice: %s", r.Raw)
		}
		if r := s.Query("", `mutation { startWebSignIn(input: {platform: QQ, redirectURI: "https://evil.example.com/cb"}) { state } }`, nil); r.Field() != "redirectURI" {
			t.Fatalf("a redirect URI not configured: %s", r.Raw)
		}
		_, _, ids := identitiesOf(t, s, carol.AccessToken)
		if len(ids) != 2 || ids[0].UnionID == nil || ids[1].UnionID == nil || *ids[0].UnionID != *ids[1].UnionID {
			t.Fatalf("carol's identities: %+v", ids)
		}

		dave := s.SignInMini(t, "QQ", "dave")
		t.Run("another account's identity is a conflict", func(t *testing.T) {
			r := s.Query(dave.AccessToken, linkMini, map[string]any{"i": map[string]any{"platform": "WECHAT", "code": "carol"}})
			if r.Code() != "CONFLICT" || reason(r) != "IDENTITY_TAKEN" {
				t.Fatalf("linking carol's WeChat to dave: %s", r.Raw)
			}
			s.SignInMini(t, "WECHAT", "erin") // erin's WeChat account, through the mini program
			st, br, c := startWeb(t, s, dave.AccessToken, "WECHAT", "erin")
			r = s.Query(dave.AccessToken, `mutation($i: FinishWebSignInInput!) { linkWebIdentity(input: $i) { id } }`,
				map[string]any{"i": map[string]any{"state": st, "code": c, "browserSecret": br}})
			if r.Code() != "CONFLICT" || reason(r) != "UNION_ID_TAKEN" {
				t.Fatalf("linking erin's WeChat website identity to dave: %s", r.Raw)
			}
			phone, verification, code := requestPhone(t, s, "13900139000")
			s.MustQuery(carol.AccessToken, linkPhone, map[string]any{"i": map[string]any{"phone": phone, "verificationID": verification, "code": code}})
			// dave cannot take carol's number, even with a code sent to it.
			s.App.Auth.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
			defer func() { s.App.Auth.Now = nil }()
			_, verification, code = requestPhone(t, s, phone)
			r = s.Query(dave.AccessToken, linkPhone, map[string]any{"i": map[string]any{"phone": phone, "verificationID": verification, "code": code}})
			if r.Code() != "CONFLICT" || reason(r) != "IDENTITY_TAKEN" {
				t.Fatalf("linking carol's phone to dave: %s", r.Raw)
			}
		})
		t.Run("the last way in stays", func(t *testing.T) {
			_, _, ids := identitiesOf(t, s, dave.AccessToken)
			r := s.Query(dave.AccessToken, `mutation($id: ID!) { unlinkIdentity(id: $id) { id } }`, map[string]any{"id": ids[0].ID})
			if r.Code() != "INVALID_STATE" || r.Errors[0].Extensions["currentState"] != "LAST_WAY_IN" {
				t.Fatalf("unlinking the only identity: %s", r.Raw)
			}
			if r := s.Query(dave.AccessToken, `mutation { unlinkEmailPassword { id } }`, nil); r.Code() != "INVALID_STATE" {
				t.Fatalf("unlinking a password that does not exist: %s", r.Raw)
			}
			s.MustQuery(dave.AccessToken, `mutation { linkEmailPassword(input: {email: "dave@example.com", password: "correct horse battery staple"}) { id } }`, nil)
			s.Login("dave@example.com")
			s.MustQuery(dave.AccessToken, `mutation($id: ID!) { unlinkIdentity(id: $id) { id } }`, map[string]any{"id": ids[0].ID})
			if r := s.Query(dave.AccessToken, `mutation { unlinkEmailPassword { id } }`, nil); r.Code() != "INVALID_STATE" {
				t.Fatalf("unlinking the password, the last way in: %s", r.Raw)
			}
			if r := s.Query(carol.AccessToken, `mutation { linkEmailPassword(input: {email: "dave@example.com", password: "correct horse battery staple"}) { id } }`, nil); r.Code() != "CONFLICT" || r.Field() != "email" {
				t.Fatalf("linking dave's address to carol: %s", r.Raw)
			}
		})
		t.Run("identities are their owner's only", func(t *testing.T) {
			admin := s.NewAdmin(t, "admin@example.com")
			for _, token := range []string{dave.AccessToken, admin.AccessToken, ""} {
				r := s.MustQuery(token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": ids[0].ID})
				if !r.Contains(`"node":null`) {
					t.Fatalf("another viewer reads carol's identity: %s", r.Raw)
				}
			}
			r := s.MustQuery(admin.AccessToken, `query($id: ID!) { node(id: $id) { ... on User { identities { id } } } }`, map[string]any{"id": carol.UserID})
			if r.Contains(ids[0].ID) {
				t.Fatalf("an admin reads carol's identities: %s", r.Raw)
			}
		})
	})
}
