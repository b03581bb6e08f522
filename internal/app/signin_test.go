package app_test

import (
	"strconv"
	"testing"

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
					"idempotencyKey": "ann-2-place"}}).Decode(t, &placed)
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
				"idempotencyKey": "phone-0-place"}}).Decode(t, &placed)
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
