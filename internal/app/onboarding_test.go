package app_test

import (
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent/auditlog"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/auth"
)

// newAdmin creates an admin directly (as `xiadan admin create` does) and signs it in.
func newAdmin(t *testing.T, s *apitest.Server, email string) apitest.Session {
	t.Helper()
	client, ctx := s.Client()
	if _, err := auth.CreateAdmin(ctx, client, email, apitest.Password, "Admin"); err != nil {
		t.Fatal(err)
	}
	return s.Login(email)
}

const applyMutation = `mutation($i: ApplyForMerchantInput!) { applyForMerchant(input: $i) { id name slug status } }`

func application(slug string) map[string]any {
	return map[string]any{"i": map[string]any{
		"name": "茶语轩 Tea House", "slug": slug, "description": "好茶 Good tea",
		"logoURL": "https://img.example.com/logo.png", "contactName": "王芳", "contactPhone": "+86 138-0000-0000",
		"contactEmail": "shop@example.com", "licenceNumber": "91310000MA1FL8XQ37", "legalName": "上海茶语轩贸易有限公司",
	}}
}

func withField(vars map[string]any, field string, value any) map[string]any {
	in := map[string]any{}
	for k, v := range vars["i"].(map[string]any) {
		in[k] = v
	}
	in[field] = value
	return map[string]any{"i": in}
}

// applyMerchant has owner apply and returns the new merchant's id.
func applyMerchant(t *testing.T, s *apitest.Server, owner apitest.Session, slug string) string {
	t.Helper()
	r := s.MustQuery(owner.AccessToken, applyMutation, application(slug))
	var out struct{ ApplyForMerchant struct{ ID, Status string } }
	r.Decode(t, &out)
	if out.ApplyForMerchant.Status != "PENDING_REVIEW" {
		t.Fatalf("new merchant status: %s", r.Raw)
	}
	return out.ApplyForMerchant.ID
}

func TestMerchantApplicationValidation(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		owner := s.Register("owner@example.com", "Owner")
		other := s.Register("other@example.com", "Other")
		cases := []struct {
			name, token string
			vars        map[string]any
			code, field string
		}{
			{"anonymous", "", application("tea-house"), "UNAUTHENTICATED", ""},
			{"bad slug", owner.AccessToken, application("Tea House!"), "BAD_USER_INPUT", "slug"},
			{"bad licence", owner.AccessToken, withField(application("tea-house"), "licenceNumber", "123"), "BAD_USER_INPUT", "licenceNumber"},
			{"http logo", owner.AccessToken, withField(application("tea-house"), "logoURL", "http://img.example.com/a.png"), "BAD_USER_INPUT", "logoURL"},
			{"bad contact email", owner.AccessToken, withField(application("tea-house"), "contactEmail", "nope"), "BAD_USER_INPUT", "contactEmail"},
			{"empty name", owner.AccessToken, withField(application("tea-house"), "name", " "), "BAD_USER_INPUT", "name"},
			{"ok", owner.AccessToken, application("tea-house"), "", ""},
			{"second application by the same owner", owner.AccessToken, application("tea-house-2"), "CONFLICT", ""},
			{"slug taken", other.AccessToken, application("tea-house"), "CONFLICT", "slug"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := s.Query(tc.token, applyMutation, tc.vars)
				if r.Code() != tc.code || r.Field() != tc.field {
					t.Fatalf("code %q field %q, want %q %q: %s", r.Code(), r.Field(), tc.code, tc.field, r.Raw)
				}
			})
		}
		// The applicant is now the owner and holds the MERCHANT role.
		r := s.MustQuery(owner.AccessToken, `{ me { roles merchantRole merchant { slug status } } }`, nil)
		if !r.Contains(`"roles":["CUSTOMER","MERCHANT"]`) || !r.Contains(`"merchantRole":"OWNER"`) || !r.Contains(`"status":"PENDING_REVIEW"`) {
			t.Fatalf("owner after applying: %s", r.Raw)
		}
	})
}

func TestMerchantReviewLifecycle(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		admin := newAdmin(t, s, "admin@example.com")
		owner := s.Register("owner@example.com", "Owner")
		customer := s.Register("cust@example.com", "Customer")
		id := applyMerchant(t, s, owner, "tea-house")

		get := `query($id: ID!) { merchant(id: $id) { id status statusReason } }`
		if r := s.MustQuery("", get, map[string]any{"id": id}); string(r.Data) != `{"merchant":null}` {
			t.Fatalf("public sees a pending merchant: %s", r.Raw)
		}
		if r := s.MustQuery(owner.AccessToken, get, map[string]any{"id": id}); !r.Contains("PENDING_REVIEW") {
			t.Fatalf("owner cannot see own pending merchant: %s", r.Raw)
		}

		review := `mutation($id: ID!, $ok: Boolean!, $reason: String) { reviewMerchant(id: $id, approve: $ok, reason: $reason) { status statusReason } }`
		setStatus := `mutation($id: ID!, $st: MerchantStatus!, $reason: String!) { setMerchantStatus(id: $id, status: $st, reason: $reason) { status statusReason } }`
		steps := []struct {
			name, token, query string
			vars               map[string]any
			code, field, want  string
		}{
			{"customer cannot review", customer.AccessToken, review, map[string]any{"id": id, "ok": true}, "FORBIDDEN", "", ""},
			{"owner cannot review own", owner.AccessToken, review, map[string]any{"id": id, "ok": true}, "FORBIDDEN", "", ""},
			{"anonymous cannot review", "", review, map[string]any{"id": id, "ok": true}, "UNAUTHENTICATED", "", ""},
			{"reject needs a reason", admin.AccessToken, review, map[string]any{"id": id, "ok": false}, "BAD_USER_INPUT", "reason", ""},
			{"suspending a pending merchant", admin.AccessToken, setStatus, map[string]any{"id": id, "st": "SUSPENDED", "reason": "x"}, "INVALID_STATE", "", ""},
			{"unknown merchant", admin.AccessToken, review, map[string]any{"id": "8589999999", "ok": true}, "NOT_FOUND", "", ""},
			{"approve", admin.AccessToken, review, map[string]any{"id": id, "ok": true, "reason": "资料齐全"}, "", "", `"status":"ACTIVE"`},
			{"review twice", admin.AccessToken, review, map[string]any{"id": id, "ok": true}, "INVALID_STATE", "", ""},
			{"status needs a reason", admin.AccessToken, setStatus, map[string]any{"id": id, "st": "SUSPENDED", "reason": " "}, "BAD_USER_INPUT", "reason", ""},
			{"cannot set PENDING_REVIEW", admin.AccessToken, setStatus, map[string]any{"id": id, "st": "PENDING_REVIEW", "reason": "x"}, "BAD_USER_INPUT", "status", ""},
			{"suspend", admin.AccessToken, setStatus, map[string]any{"id": id, "st": "SUSPENDED", "reason": "投诉过多 too many complaints"}, "", "", `"status":"SUSPENDED"`},
			{"suspend again is a no-op", admin.AccessToken, setStatus, map[string]any{"id": id, "st": "SUSPENDED", "reason": "again"}, "", "", `"status":"SUSPENDED"`},
		}
		for _, st := range steps {
			r := s.Query(st.token, st.query, st.vars)
			if r.Code() != st.code || r.Field() != st.field || (st.want != "" && !r.Contains(st.want)) {
				t.Fatalf("%s: code %q field %q, want %q %q %s: %s", st.name, r.Code(), r.Field(), st.code, st.field, st.want, r.Raw)
			}
		}
		if r := s.MustQuery("", get, map[string]any{"id": id}); string(r.Data) != `{"merchant":null}` {
			t.Fatalf("public sees a suspended merchant: %s", r.Raw)
		}
		s.MustQuery(admin.AccessToken, setStatus, map[string]any{"id": id, "st": "ACTIVE", "reason": "申诉通过 appeal upheld"})
		if r := s.MustQuery("", get, map[string]any{"id": id}); !r.Contains(`"status":"ACTIVE"`) {
			t.Fatalf("public cannot see the reinstated merchant: %s", r.Raw)
		}

		// Every admin action is in the audit log with actor, reason and request id.
		client, ctx := s.Client()
		mid, _ := strconv.Atoi(id)
		logs, err := client.AuditLog.Query().Where(auditlog.TargetType("Merchant"), auditlog.TargetID(mid)).
			Order(auditlog.ByID()).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, l := range logs {
			actions = append(actions, l.Action)
			if l.Action != "merchant.apply" && (l.ActorID == nil || strconv.Itoa(*l.ActorID) != admin.UserID || l.RequestID == "") {
				t.Fatalf("audit entry %s lacks actor or request id: %+v", l.Action, l)
			}
		}
		want := "merchant.apply,merchant.approve,merchant.set_status,merchant.set_status"
		if got := join(actions); got != want {
			t.Fatalf("audit actions %s, want %s", got, want)
		}
		// Admins read the audit log through the API; nobody else can.
		q := `{ auditLogs(first: 10, where: {targetType: "Merchant"}) { totalCount edges { node { action reason actor { email } } } } }`
		r := s.MustQuery(admin.AccessToken, q, nil)
		if !r.Contains(`"totalCount":4`) || !r.Contains(`"action":"merchant.set_status","reason":"申诉通过 appeal upheld","actor":{"email":"admin@example.com"}`) {
			t.Fatalf("auditLogs: %s", r.Raw)
		}
		if r := s.Query(owner.AccessToken, q, nil); r.Code() != "FORBIDDEN" {
			t.Fatalf("owner reads audit log: %s", r.Raw)
		}
	})
}

func join(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}

func TestMerchantStaffInvitations(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		admin := newAdmin(t, s, "admin@example.com")
		owner := s.Register("owner@example.com", "Owner")
		id := applyMerchant(t, s, owner, "tea-house")
		s.MustQuery(admin.AccessToken, `mutation($id: ID!) { reviewMerchant(id: $id, approve: true) { id } }`, map[string]any{"id": id})
		rival := s.Register("rival@example.com", "Rival")
		rivalID := applyMerchant(t, s, rival, "rival-shop")

		invite := `mutation($m: ID!, $e: String!) { inviteMerchantStaff(merchantID: $m, email: $e) { id email status } }`
		r := s.MustQuery(owner.AccessToken, invite, map[string]any{"m": id, "e": "Staff@Example.com"})
		var inv struct{ InviteMerchantStaff struct{ ID, Email string } }
		r.Decode(t, &inv)
		if inv.InviteMerchantStaff.Email != "staff@example.com" {
			t.Fatalf("invitation: %s", r.Raw)
		}
		// Inviting again while pending returns the same invitation.
		if r := s.MustQuery(owner.AccessToken, invite, map[string]any{"m": id, "e": "staff@example.com"}); !r.Contains(inv.InviteMerchantStaff.ID) {
			t.Fatalf("repeat invitation: %s", r.Raw)
		}
		// The rival owner cannot invite into this merchant; nor can they invite the rival.
		if r := s.Query(rival.AccessToken, invite, map[string]any{"m": id, "e": "x@example.com"}); r.Code() != "FORBIDDEN" {
			t.Fatalf("rival invites: %s", r.Raw)
		}
		if r := s.Query(owner.AccessToken, invite, map[string]any{"m": id, "e": "rival@example.com"}); r.Code() != "CONFLICT" {
			t.Fatalf("inviting another merchant's owner: %s", r.Raw)
		}

		staff := s.Register("staff@example.com", "Staff")
		accept := `mutation($id: ID!) { acceptMerchantInvitation(id: $id) { slug } }`
		// Until the address is verified, the invitation neither shows nor works.
		r = s.MustQuery(staff.AccessToken, `{ myMerchantInvitations { id merchant { slug } } }`, nil)
		if string(r.Data) != `{"myMerchantInvitations":[]}` {
			t.Fatalf("unverified invitee sees the invitation: %s", r.Raw)
		}
		if r := s.Query(staff.AccessToken, accept, map[string]any{"id": inv.InviteMerchantStaff.ID}); r.Code() != "FORBIDDEN" ||
			r.Errors[0].Extensions["reason"] != "EMAIL_NOT_VERIFIED" {
			t.Fatalf("unverified invitee accepts: %s", r.Raw)
		}
		s.VerifyEmail(t, staff)
		r = s.MustQuery(staff.AccessToken, `{ myMerchantInvitations { id merchant { slug } } }`, nil)
		if !r.Contains(`"slug":"tea-house"`) {
			t.Fatalf("invitee does not see the invitation: %s", r.Raw)
		}
		s.VerifyEmail(t, rival)
		if r := s.Query(rival.AccessToken, accept, map[string]any{"id": inv.InviteMerchantStaff.ID}); r.Code() != "NOT_FOUND" {
			t.Fatalf("someone else accepts: %s", r.Raw)
		}
		s.MustQuery(staff.AccessToken, accept, map[string]any{"id": inv.InviteMerchantStaff.ID})
		if r := s.Query(staff.AccessToken, accept, map[string]any{"id": inv.InviteMerchantStaff.ID}); r.Code() != "INVALID_STATE" {
			t.Fatalf("accepting twice: %s", r.Raw)
		}
		r = s.MustQuery(staff.AccessToken, `{ me { roles merchantRole } myMerchant { slug staff { email merchantRole } } }`, nil)
		if !r.Contains(`"merchantRole":"STAFF"`) || !r.Contains(`"MERCHANT"`) || !r.Contains(`"email":"owner@example.com"`) {
			t.Fatalf("staff after joining: %s", r.Raw)
		}

		// Staff can read but not manage; the public never sees the staff list.
		update := `mutation($id: ID!, $i: UpdateMerchantInput!) { updateMerchant(id: $id, input: $i) { name shippingFlatFee { amount } } }`
		if r := s.Query(staff.AccessToken, update, map[string]any{"id": id, "i": map[string]any{"name": "x"}}); r.Code() != "FORBIDDEN" {
			t.Fatalf("staff updates merchant: %s", r.Raw)
		}
		if r := s.Query(rival.AccessToken, update, map[string]any{"id": id, "i": map[string]any{"name": "x"}}); r.Code() != "FORBIDDEN" {
			t.Fatalf("other merchant's owner updates merchant: %s", r.Raw)
		}
		if r := s.Query(owner.AccessToken, update, map[string]any{"id": rivalID, "i": map[string]any{"name": "x"}}); r.Code() != "NOT_FOUND" {
			t.Fatalf("owner updates a pending merchant it cannot see: %s", r.Raw)
		}
		// Money inputs are decimal strings, as everywhere in the API.
		for _, bad := range []struct {
			field string
			value any
			code  string
		}{
			{"shippingFlatFee", "-1", "BAD_USER_INPUT"},
			{"shippingFlatFee", "8.001", "BAD_USER_INPUT"},
			{"shippingFlatFee", "eight", "BAD_USER_INPUT"},
			{"shippingFlatFee", "100000.01", "BAD_USER_INPUT"},
			{"freeShippingThreshold", "-0.01", "BAD_USER_INPUT"},
			{"freeShippingThreshold", "1e3", "BAD_USER_INPUT"},
		} {
			r := s.Query(owner.AccessToken, update, map[string]any{"id": id, "i": map[string]any{bad.field: bad.value}})
			if r.Code() != bad.code || r.Field() != bad.field {
				t.Fatalf("%s = %v: %s", bad.field, bad.value, r.Raw)
			}
		}
		r = s.MustQuery(owner.AccessToken, `mutation($id: ID!, $i: UpdateMerchantInput!) {
			updateMerchant(id: $id, input: $i) { name shippingFlatFee { amount currency } freeShippingThreshold { amount } } }`,
			map[string]any{"id": id, "i": map[string]any{"name": "茶语轩", "shippingFlatFee": "8", "freeShippingThreshold": " 99.5 "}})
		if !r.Contains(`"shippingFlatFee":{"amount":"8.00","currency":"CNY"}`) || !r.Contains(`"freeShippingThreshold":{"amount":"99.50"}`) {
			t.Fatalf("update: %s", r.Raw)
		}
		r = s.MustQuery(owner.AccessToken, `mutation($id: ID!) { updateMerchant(id: $id, input: {freeShippingThreshold: "0"}) { freeShippingThreshold { amount } } }`,
			map[string]any{"id": id})
		if !r.Contains(`"freeShippingThreshold":null`) {
			t.Fatalf("free shipping off: %s", r.Raw)
		}
		if r := s.MustQuery("", `query($id: ID!) { merchant(id: $id) { staff { email } } }`, map[string]any{"id": id}); !r.Contains(`"staff":[]`) {
			t.Fatalf("public sees staff: %s", r.Raw)
		}
		// The contact person is private to members and admins.
		contactQ := `query($id: ID!) { merchant(id: $id) { contact { name phone email } } }`
		for _, tc := range []struct{ who, token, want string }{
			{"public", "", `"contact":null`},
			{"another merchant's owner", rival.AccessToken, `"contact":null`},
			{"staff", staff.AccessToken, `"email":"shop@example.com"`},
			{"admin", admin.AccessToken, `"name":"王芳"`},
		} {
			if r := s.MustQuery(tc.token, contactQ, map[string]any{"id": id}); !r.Contains(tc.want) {
				t.Fatalf("contact as %s: %s", tc.who, r.Raw)
			}
		}

		remove := `mutation($m: ID!, $u: ID!) { removeMerchantStaff(merchantID: $m, userID: $u) { id } }`
		if r := s.Query(owner.AccessToken, remove, map[string]any{"m": id, "u": owner.UserID}); r.Code() != "BAD_USER_INPUT" || r.Field() != "userID" {
			t.Fatalf("removing the owner: %s", r.Raw)
		}
		if r := s.Query(staff.AccessToken, remove, map[string]any{"m": id, "u": staff.UserID}); r.Code() != "FORBIDDEN" {
			t.Fatalf("staff removes staff: %s", r.Raw)
		}
		s.MustQuery(owner.AccessToken, remove, map[string]any{"m": id, "u": staff.UserID})
		if r := s.MustQuery(staff.AccessToken, `{ me { roles } myMerchant { id } }`, nil); !r.Contains(`"roles":["CUSTOMER"]`) || !r.Contains(`"myMerchant":null`) {
			t.Fatalf("removed staff keeps access: %s", r.Raw)
		}
	})
}
