package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
)

func TestRoleBoundaries(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		admin := newAdmin(t, s, "admin@example.com")
		alice := s.Register("alice@example.com", "Alice")
		bob := s.Register("bob@example.com", "Bob")
		owner := s.Register("owner@example.com", "Owner")
		applyMerchant(t, s, owner, "tea-house")

		users := `{ users(first: 10) { totalCount } }`
		for _, tc := range []struct {
			name, token, code string
		}{
			{"anonymous", "", "UNAUTHENTICATED"},
			{"customer", alice.AccessToken, "FORBIDDEN"},
			{"merchant owner", owner.AccessToken, "FORBIDDEN"},
			{"admin", admin.AccessToken, ""},
		} {
			if r := s.Query(tc.token, users, nil); r.Code() != tc.code {
				t.Fatalf("users as %s: %s", tc.name, r.Raw)
			}
		}
		if r := s.MustQuery(admin.AccessToken, `{ users(first: 10, where: {emailContains: "example.com"}) { totalCount } }`, nil); !r.Contains(`"totalCount":4`) {
			t.Fatalf("admin users: %s", r.Raw)
		}

		// node(id:) obeys the same privacy rules as everything else: another person's
		// account reads as null, exactly like a missing one.
		node := `query($id: ID!) { node(id: $id) { id ... on User { email } } }`
		for _, tc := range []struct {
			name, token, id, want string
		}{
			{"anonymous reads a user", "", alice.UserID, `{"node":null}`},
			{"customer reads another customer", bob.AccessToken, alice.UserID, `{"node":null}`},
			{"customer reads a missing user", bob.AccessToken, "47244999999", `{"node":null}`},
			{"customer reads self", alice.AccessToken, alice.UserID, `alice@example.com`},
			{"admin reads anyone", admin.AccessToken, alice.UserID, `alice@example.com`},
		} {
			r := s.MustQuery(tc.token, node, map[string]any{"id": tc.id})
			if !strings.Contains(string(r.Data), tc.want) {
				t.Fatalf("%s: %s", tc.name, r.Raw)
			}
		}
		r := s.MustQuery(bob.AccessToken, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{alice.UserID, bob.UserID}})
		if string(r.Data) != `{"nodes":[null,{"id":"`+bob.UserID+`"}]}` {
			t.Fatalf("nodes: %s", r.Raw)
		}

		// Users may edit their profile but nothing that grants power.
		r = s.MustQuery(alice.AccessToken, `mutation { updateProfile(input: {displayName: "爱丽丝", locale: "en"}) { displayName locale } }`, nil)
		if !r.Contains(`"displayName":"爱丽丝","locale":"en"`) {
			t.Fatalf("updateProfile: %s", r.Raw)
		}
		if r := s.Query(alice.AccessToken, `mutation { updateProfile(input: {locale: "en<script>"}) { locale } }`, nil); r.Code() != "BAD_USER_INPUT" || r.Field() != "locale" {
			t.Fatalf("bad locale: %s", r.Raw)
		}
	})
}

func TestDisabledUserIsSignedOutEverywhere(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		admin := newAdmin(t, s, "admin@example.com")
		carl := s.Register("carl@example.com", "Carl")
		set := `mutation($id: ID!, $st: UserStatus!, $r: String!) { setUserStatus(id: $id, status: $st, reason: $r) { status } }`
		if r := s.Query(carl.AccessToken, set, map[string]any{"id": carl.UserID, "st": "DISABLED", "r": "x"}); r.Code() != "FORBIDDEN" {
			t.Fatalf("customer disables: %s", r.Raw)
		}
		if r := s.Query(admin.AccessToken, set, map[string]any{"id": admin.UserID, "st": "DISABLED", "r": "oops"}); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("admin disables self: %s", r.Raw)
		}
		if r := s.Query(admin.AccessToken, set, map[string]any{"id": carl.UserID, "st": "DISABLED", "r": ""}); r.Code() != "BAD_USER_INPUT" || r.Field() != "reason" {
			t.Fatalf("no reason: %s", r.Raw)
		}
		s.MustQuery(admin.AccessToken, set, map[string]any{"id": carl.UserID, "st": "DISABLED", "r": "风控 fraud review"})

		if r := s.Query(carl.AccessToken, `{ me { id } }`, nil); r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("disabled user's access token still works: %s", r.Raw)
		}
		if r := s.Query("", `mutation($t: String!) { refreshToken(token: $t) { accessToken } }`, map[string]any{"t": carl.RefreshToken}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("disabled user refreshes: %s", r.Raw)
		}
		r := s.Query("", `mutation { login(input: {email: "carl@example.com", password: "`+apitest.Password+`"}) { accessToken } }`, nil)
		if r.Code() != "UNAUTHENTICATED" || r.Errors[0].Message != "invalid email or password" {
			t.Fatalf("disabled user logs in: %s", r.Raw)
		}
		s.MustQuery(admin.AccessToken, set, map[string]any{"id": carl.UserID, "st": "ACTIVE", "r": "cleared"})
		s.Login("carl@example.com")
		if r := s.MustQuery(admin.AccessToken, `{ auditLogs(first: 5, where: {action: "user.set_status"}) { totalCount } }`, nil); !r.Contains(`"totalCount":2`) {
			t.Fatalf("audit: %s", r.Raw)
		}
	})
}

func TestConnectionsNeedAPageSize(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdbSQLite(t))
	for _, tc := range []struct{ query, code, field string }{
		{`{ merchants { totalCount } }`, "BAD_USER_INPUT", "first"},
		{`{ merchants(first: 0) { totalCount } }`, "BAD_USER_INPUT", "first"},
		{`{ merchants(first: 101) { totalCount } }`, "BAD_USER_INPUT", "first"},
		{`{ merchants(last: 1000) { totalCount } }`, "BAD_USER_INPUT", "last"},
		{`{ merchants(first: 1, last: 1) { totalCount } }`, "BAD_USER_INPUT", "first"},
		{`{ products(first: 5) { edges { node { merchant { products { totalCount } } } } } }`, "", ""},
		{`{ merchants(first: 100) { totalCount } }`, "", ""},
	} {
		r := s.Query("", tc.query, nil)
		if r.Code() != tc.code || r.Field() != tc.field {
			t.Fatalf("%s: %s", tc.query, r.Raw)
		}
	}
}

func TestErrorsAreMaskedAndCoded(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdbSQLite(t))
	// Syntax and validation errors carry a code from the closed set.
	for _, q := range []string{`{ me { id `, `{ noSuchField }`, `{ merchant(id: "1") { noSuchField } }`} {
		if r := s.Query("", q, nil); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("%s: %s", q, r.Raw)
		}
	}
	// A database failure is INTERNAL with a request id, and no SQL or driver text.
	s.DB.SQL.Close()
	r := s.Do(apitest.Request{Query: `{ merchants(first: 5) { totalCount } }`, Header: map[string]string{"X-Request-ID": "req-123"}})
	if r.Code() != "INTERNAL" || r.Errors[0].Extensions["requestId"] != "req-123" {
		t.Fatalf("database failure: %s", r.Raw)
	}
	for _, leak := range []string{"sql", "SELECT", "closed"} {
		if strings.Contains(r.Errors[0].Message, leak) {
			t.Fatalf("error leaks %q: %s", leak, r.Raw)
		}
	}
	res, err := http.Get(s.HTTP.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz with a closed database: %d", res.StatusCode)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, testdbSQLite(t))
	for _, path := range []string{"/healthz", "/readyz"} {
		res, err := http.Get(s.HTTP.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
	}
}
