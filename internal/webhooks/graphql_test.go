package webhooks_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/webhooks"
)

const (
	createWebhook = `mutation($i: CreateWebhookInput!) { createWebhook(input: $i) {
	  secret webhook { id merchantID url eventTypes status disabledReason } } }`
	listWebhooks      = `query($m: ID!) { webhooks(merchantID: $m) { id url status } }`
	updateWebhook     = `mutation($id: ID!, $i: UpdateWebhookInput!) { updateWebhook(id: $id, input: $i) { id url eventTypes status } }`
	webhookDeliveries = `query($id: ID!) { webhookDeliveries(webhookID: $id, first: 10) { totalCount edges { node {
	  id status attempts eventType lastResponseCode lastError webhook { id }
	  attemptLog { number responseCode latencyMs error createdAt } } } } }`
)

func TestWebhooksThroughGraphQL(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *env) {
		s, owner := e.s, e.shop.Owner.AccessToken
		rec := newReceiver(t, 500, 200)
		r := s.Query(owner, createWebhook, map[string]any{"i": map[string]any{
			"merchantID": e.shop.ID, "url": rec.URL + "/orders", "types": []string{"CREATED", "PAID"}}})
		if len(r.Errors) > 0 {
			t.Fatalf("create: %s", r.Raw)
		}
		var created struct {
			CreateWebhook struct {
				Secret  string
				Webhook struct {
					ID, MerchantID, URL, Status string
					EventTypes                  []string
				}
			}
		}
		r.Decode(t, &created)
		hook := created.CreateWebhook.Webhook
		secret := created.CreateWebhook.Secret
		if !strings.HasPrefix(secret, "whsec_") || hook.MerchantID != e.shop.ID || hook.Status != "ACTIVE" ||
			strings.Join(hook.EventTypes, ",") != "CREATED,PAID" {
			t.Fatalf("created: %+v", created)
		}
		// Shown once: nothing else ever returns the secret.
		staff := s.AddStaff(t, e.shop, "staff@example.com").AccessToken
		if r := s.MustQuery(staff, listWebhooks, map[string]any{"m": e.shop.ID}); r.Contains(secret) || !r.Contains(hook.ID) {
			t.Errorf("list: %s", r.Raw)
		}
		if r := s.Query(staff, `query($m: ID!) { webhooks(merchantID: $m) { secret } }`, map[string]any{"m": e.shop.ID}); len(r.Errors) == 0 {
			t.Errorf("the secret is a field: %s", r.Raw)
		}

		// Refusals, with their codes.
		foreign := e.rival.Owner.AccessToken
		buyer := e.buyer.AccessToken
		refusals := []struct {
			name, token, query string
			vars               map[string]any
			code, field        string
		}{
			{"another merchant lists", foreign, listWebhooks, map[string]any{"m": e.shop.ID}, "NOT_FOUND", ""},
			{"another merchant updates", foreign, updateWebhook, map[string]any{"id": hook.ID, "i": map[string]any{"enabled": false}}, "NOT_FOUND", ""},
			{"another merchant reads deliveries", foreign, webhookDeliveries, map[string]any{"id": hook.ID}, "NOT_FOUND", ""},
			{"another merchant deletes", foreign, `mutation($id: ID!) { deleteWebhook(id: $id) }`, map[string]any{"id": hook.ID}, "NOT_FOUND", ""},
			{"a customer lists", buyer, listWebhooks, map[string]any{"m": e.shop.ID}, "FORBIDDEN", ""},
			{"a customer creates", buyer, createWebhook, map[string]any{"i": map[string]any{"merchantID": e.shop.ID, "url": "https://example.com"}}, "FORBIDDEN", ""},
			{"anonymous", "", listWebhooks, map[string]any{"m": e.shop.ID}, "UNAUTHENTICATED", ""},
			{"a URL with a password", staff, createWebhook, map[string]any{"i": map[string]any{"merchantID": e.shop.ID, "url": "https://a:b@example.com"}}, "BAD_USER_INPUT", "url"},
			{"not a URL", staff, updateWebhook, map[string]any{"id": hook.ID, "i": map[string]any{"url": "example"}}, "BAD_USER_INPUT", "url"},
			{"another merchant rotates", foreign, `mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`, map[string]any{"id": hook.ID}, "NOT_FOUND", ""},
			{"a customer rotates", buyer, `mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`, map[string]any{"id": hook.ID}, "FORBIDDEN", ""},
			{"a missing delivery", staff, `mutation($id: ID!) { redeliverWebhook(deliveryID: $id) { status } }`, map[string]any{"id": "999999"}, "NOT_FOUND", ""},
		}
		for _, c := range refusals {
			r := s.Query(c.token, c.query, c.vars)
			if r.Code() != c.code || r.Field() != c.field || r.Contains(secret) {
				t.Errorf("%s: %s, want %s %s", c.name, r.Raw, c.code, c.field)
			}
		}

		// An order is delivered, failing once: the log shows both attempts.
		e.enqueue(t, e.order(t, e.shop))
		e.runOnce(t)
		e.clock.Advance(webhooks.RetryDelayCap(1))
		e.runOnce(t)
		if got := rec.requests(); len(got) != 2 || webhooks.Verify(secret, got[1].Header.Get("X-Xiadan-Signature"), got[1].Body, e.clock.Now(), 0) != nil {
			t.Fatalf("receiver got %d requests", len(got))
		}
		var log struct {
			WebhookDeliveries struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						ID, Status, EventType string
						Attempts              int
						LastResponseCode      *int
						Webhook               struct{ ID string }
						AttemptLog            []struct {
							Number, LatencyMs int
							ResponseCode      *int
							Error, CreatedAt  string
						}
					}
				}
			}
		}
		s.MustQuery(staff, webhookDeliveries, map[string]any{"id": hook.ID}).Decode(t, &log)
		if log.WebhookDeliveries.TotalCount != 1 {
			t.Fatalf("deliveries: %+v", log)
		}
		d := log.WebhookDeliveries.Edges[0].Node
		if d.Status != "SUCCEEDED" || d.Attempts != 2 || d.EventType != "CREATED" || *d.LastResponseCode != 200 ||
			d.Webhook.ID != hook.ID || len(d.AttemptLog) != 2 {
			t.Fatalf("delivery: %+v", d)
		}
		if a := d.AttemptLog; a[0].Number != 1 || *a[0].ResponseCode != 500 || !strings.HasPrefix(a[0].Error, "HTTP 500") ||
			a[1].Number != 2 || *a[1].ResponseCode != 200 || a[1].Error != "" {
			t.Errorf("attempt log: %+v", a)
		}

		// Redeliver appends an attempt; rotate returns a new secret; delete removes it all.
		var again struct{ RedeliverWebhook struct{ Status string } }
		s.MustQuery(owner, `mutation($id: ID!) { redeliverWebhook(deliveryID: $id) { status } }`, map[string]any{"id": d.ID}).Decode(t, &again)
		if again.RedeliverWebhook.Status != "PENDING" {
			t.Errorf("redeliver: %+v", again)
		}
		if r := s.Query(foreign, `mutation($id: ID!) { redeliverWebhook(deliveryID: $id) { status } }`, map[string]any{"id": d.ID}); r.Code() != "NOT_FOUND" {
			t.Errorf("foreign redeliver: %s", r.Raw)
		}
		e.runOnce(t)
		if n := len(e.attempts(t, e.db.WebhookDelivery.GetX(e.sys, mustAtoi(t, d.ID)))); n != 3 {
			t.Errorf("after redelivery: %d attempts", n)
		}
		var rotated struct{ RotateWebhookSecret struct{ Secret string } }
		s.MustQuery(owner, `mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret webhook { previousSecretExpiresAt } } }`,
			map[string]any{"id": hook.ID}).Decode(t, &rotated)
		if rotated.RotateWebhookSecret.Secret == secret || !strings.HasPrefix(rotated.RotateWebhookSecret.Secret, "whsec_") {
			t.Errorf("rotated: %+v", rotated)
		}
		s.MustQuery(owner, `mutation($id: ID!) { deleteWebhook(id: $id) }`, map[string]any{"id": hook.ID})
		if n := e.db.WebhookDelivery.Query().CountX(e.sys) + e.db.WebhookAttempt.Query().CountX(e.sys); n != 0 {
			t.Errorf("%d deliveries and attempts left", n)
		}
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
