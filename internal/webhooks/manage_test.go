package webhooks_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/webhook"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/webhooks"
)

func TestAccessToWebhooks(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *env) {
		const clientA, clientB = 71, 72
		manage := []string{webhooks.ManageScope, "orders:read"}
		own, _ := e.hook(t, e.shop, "https://staff.example.com/hook")
		ofPartner, _, err := e.svc.Create(partner(clientA, manage, e.shop.IntID),
			webhooks.CreateInput{MerchantID: e.shop.IntID, URL: "https://partner.example.com/hook"})
		if err != nil {
			t.Fatal(err)
		}
		if ofPartner.APIClientID == nil || *ofPartner.APIClientID != clientA || own.APIClientID != nil {
			t.Fatalf("owner client: staff's %v, partner's %v", own.APIClientID, ofPartner.APIClientID)
		}

		cases := []struct {
			name    string
			ctx     context.Context
			listed  int
			hook    int // the webhook the viewer tries to change
			code    apperror.Code
			listErr apperror.Code
		}{
			{"staff of the merchant", staffOf(e.shop), 2, ofPartner.ID, "", ""},
			{"admin", admin(), 2, own.ID, "", ""},
			{"partner with webhooks:manage, its own", partner(clientA, manage, e.shop.IntID), 1, ofPartner.ID, "", ""},
			{"partner, the staff's webhook", partner(clientA, manage, e.shop.IntID), 1, own.ID, apperror.NotFound, ""},
			{"another partner of the merchant", partner(clientB, manage, e.shop.IntID), 0, ofPartner.ID, apperror.NotFound, ""},
			{"partner without the scope", partner(clientA, []string{"orders:read"}, e.shop.IntID), 0, ofPartner.ID, apperror.Forbidden, apperror.Forbidden},
			{"partner that may not read orders", partner(clientA, []string{webhooks.ManageScope}, e.shop.IntID), 0, ofPartner.ID, apperror.Forbidden, apperror.Forbidden},
			{"partner of another merchant", partner(clientA, manage, e.rival.IntID), 0, ofPartner.ID, apperror.NotFound, apperror.NotFound},
			{"staff of another merchant", staffOf(e.rival), 0, own.ID, apperror.NotFound, apperror.NotFound},
			{"customer", customer(), 0, own.ID, apperror.Forbidden, apperror.Forbidden},
			{"anonymous", context.Background(), 0, own.ID, apperror.Unauthenticated, apperror.Unauthenticated},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				list, err := e.svc.List(c.ctx, e.shop.IntID)
				if apperror.CodeOf(err) != c.listErr || (err == nil && len(list) != c.listed) {
					t.Errorf("list: %d webhooks, err %v; want %d, %q", len(list), err, c.listed, c.listErr)
				}
				_, err = e.svc.Update(c.ctx, c.hook, webhooks.UpdateInput{Types: []orderevent.Type{orderevent.TypePAID}})
				if apperror.CodeOf(err) != c.code || (c.code == "" && err != nil) {
					t.Errorf("update: %v, want %q", err, c.code)
				}
				_, _, err = e.svc.RotateSecret(c.ctx, c.hook)
				if apperror.CodeOf(err) != c.code || (c.code == "" && err != nil) {
					t.Errorf("rotate: %v, want %q", err, c.code)
				}
				if _, err := e.svc.Deliveries(c.ctx, c.hook, nil, nil, nil, nil); apperror.CodeOf(err) != c.code || (c.code == "" && err != nil) {
					t.Errorf("deliveries: %v, want %q", err, c.code)
				}
				if c.code != "" {
					if err := e.svc.Delete(c.ctx, c.hook); apperror.CodeOf(err) != c.code {
						t.Errorf("delete: %v, want %q", err, c.code)
					}
				}
			})
		}
		// A missing webhook reads exactly as a foreign one.
		if _, err := e.svc.Update(staffOf(e.shop), 999999, webhooks.UpdateInput{}); apperror.CodeOf(err) != apperror.NotFound {
			t.Errorf("missing webhook: %v", err)
		}
		if err := e.svc.Delete(staffOf(e.shop), ofPartner.ID); err != nil {
			t.Fatal(err)
		}
		if n := e.db.Webhook.Query().CountX(e.sys); n != 1 {
			t.Errorf("after delete: %d webhooks", n)
		}
	})
}

func TestWebhookURLValidation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *env) {
		prod := e.service(false)
		long := "https://example.com/" + strings.Repeat("a", 2048)
		cases := []struct {
			url          string
			allowPrivate bool
			ok           bool
		}{
			{"http://example.com/hook", false, false},
			{"https://user:pw@example.com/hook", false, false},
			{"https://user@example.com/hook", true, false},
			{long, true, false},
			{"ftp://example.com/x", true, false},
			{"not a url", true, false},
			{"https:///path-only", true, false},
			{"https://127.0.0.1/hook", false, false},
			{"https://localhost:8443/hook", false, false},
			{"https://10.1.2.3/hook", false, false},
			{"https://172.16.0.1/hook", false, false},
			{"https://192.168.1.1/hook", false, false},
			{"https://169.254.169.254/latest/meta-data", false, false},
			{"https://100.64.0.1/hook", false, false},
			{"https://0.0.0.0/hook", false, false},
			{"https://[::1]/hook", false, false},
			{"https://[fe80::1]/hook", false, false},
			{"https://[fd00::1]/hook", false, false},
			{"https://[::ffff:127.0.0.1]/hook", false, false},
			{"https://93.184.215.14/hook", false, true},
			{"http://127.0.0.1:8080/hook", true, true},
			{"https://10.0.0.5/hook", true, true},
		}
		for _, c := range cases {
			svc := prod
			if c.allowPrivate {
				svc = e.svc
			}
			w, _, err := svc.Create(staffOf(e.shop), webhooks.CreateInput{MerchantID: e.shop.IntID, URL: c.url})
			if c.ok {
				if err != nil {
					t.Errorf("%.60s (allowPrivate %v): %v", c.url, c.allowPrivate, err)
				} else {
					_ = svc.Delete(staffOf(e.shop), w.ID)
				}
				continue
			}
			var ae *apperror.Error
			if err == nil || apperror.CodeOf(err) != apperror.BadUserInput || !asAppError(err, &ae) || ae.Field != "url" {
				t.Errorf("%.60s (allowPrivate %v): want BAD_USER_INPUT on url, got %v", c.url, c.allowPrivate, err)
			}
		}
		if _, _, err := e.svc.Create(staffOf(e.shop), webhooks.CreateInput{MerchantID: e.shop.IntID,
			URL: "https://example.com", Types: []orderevent.Type{"EXPLODED"}}); apperror.CodeOf(err) != apperror.BadUserInput {
			t.Errorf("unknown type: %v", err)
		}

		// At most ten per merchant.
		for i := 0; i < webhooks.MaxPerMerchant; i++ {
			e.hook(t, e.shop, "https://example.com/hook")
		}
		_, _, err := e.svc.Create(staffOf(e.shop), webhooks.CreateInput{MerchantID: e.shop.IntID, URL: "https://example.com/11"})
		if apperror.CodeOf(err) != apperror.Conflict {
			t.Errorf("eleventh webhook: %v", err)
		}
		if _, _, err := e.svc.Create(staffOf(e.shop), webhooks.CreateInput{MerchantID: 999999, URL: "https://example.com"}); apperror.CodeOf(err) != apperror.NotFound {
			t.Errorf("webhook of another merchant's id: %v", err)
		}
	})
}

func asAppError(err error, target **apperror.Error) bool { return errors.As(err, target) }

func TestSecretsAndUpdates(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *env) {
		w, secret := e.hook(t, e.shop, "https://example.com/hook", orderevent.TypePAID, orderevent.TypePAID)
		if !strings.HasPrefix(secret, "whsec_") || len(secret) != len("whsec_")+43 || w.Secret != secret {
			t.Fatalf("secret %q", secret)
		}
		if got := w.EventTypes; len(got) != 1 || got[0] != "PAID" {
			t.Errorf("types are deduplicated: %v", got)
		}
		_, other := e.hook(t, e.shop, "https://example.com/other")
		if other == secret {
			t.Error("secrets must be random")
		}

		rotated, next, err := e.svc.RotateSecret(staffOf(e.shop), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if next == secret || rotated.Secret != next || rotated.PreviousSecret != secret || rotated.PreviousSecretExpiresAt == nil ||
			!rotated.PreviousSecretExpiresAt.Equal(e.clock.Now().Add(webhooks.SecretOverlap)) {
			t.Errorf("after rotation: %+v", rotated)
		}

		all := []orderevent.Type{}
		url := "https://example.com/moved"
		u, err := e.svc.Update(staffOf(e.shop), w.ID, webhooks.UpdateInput{URL: &url, Types: all})
		if err != nil || u.URL != url || len(u.EventTypes) != 0 {
			t.Fatalf("update: %+v %v", u, err)
		}
		off := false
		u, err = e.svc.Update(staffOf(e.shop), w.ID, webhooks.UpdateInput{Enabled: &off})
		if err != nil || u.Status != webhook.StatusDISABLED || u.DisabledReason == "" {
			t.Fatalf("disable: %+v %v", u, err)
		}
		e.db.Webhook.UpdateOne(u).SetConsecutiveFailures(7).SetFailingSince(e.clock.Now()).ExecX(e.sys)
		on := true
		u, err = e.svc.Update(staffOf(e.shop), w.ID, webhooks.UpdateInput{Enabled: &on})
		if err != nil || u.Status != webhook.StatusACTIVE || u.DisabledReason != "" || u.ConsecutiveFailures != 0 || u.FailingSince != nil {
			t.Fatalf("enable: %+v %v", u, err)
		}
	})
}
