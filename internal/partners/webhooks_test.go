package partners_test

import (
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/testdb"
)

// TestRevokingAClientStopsItsWebhooks: a partner's webhook stops with the client, and a
// client that may not read orders cannot register one.
func TestRevokingAClientStopsItsWebhooks(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			s := apitest.New(t, d.URL(t), func(c *config.Config) { c.WebhookAllowPrivate = true })
			w := newWorld(t, s)
			const create = `mutation($m: ID!) { createWebhook(input: {merchantID: $m, url: "http://127.0.0.1:9/hook"}) { webhook { id status } } }`
			blind := w.create(t, w.shop.Owner.AccessToken, "Blind", []string{w.shop.ID}, []string{"webhooks:manage"})
			wantCode(t, "webhooks without orders:read", s.Query(w.token(t, blind, blind.Secret, ""), create, map[string]any{"m": w.shop.ID}), "FORBIDDEN", "")

			erp := w.create(t, w.shop.Owner.AccessToken, "ERP", []string{w.shop.ID}, []string{"webhooks:manage", "orders:read"})
			r := s.MustQuery(w.token(t, erp, erp.Secret, ""), create, map[string]any{"m": w.shop.ID})
			var out struct {
				CreateWebhook struct{ Webhook struct{ ID, Status string } }
			}
			r.Decode(t, &out)
			s.MustQuery(w.shop.Owner.AccessToken, revokeClient, map[string]any{"id": erp.ID})
			r = s.MustQuery(w.shop.Owner.AccessToken, `query($m: ID!) { webhooks(merchantID: $m) { id status disabledReason } }`, map[string]any{"m": w.shop.ID})
			if !r.Contains(`"status":"DISABLED"`) || !r.Contains(`"disabledReason":"its API client was revoked"`) {
				t.Fatalf("webhook after revocation: %s", r.Raw)
			}
		})
	}
}
