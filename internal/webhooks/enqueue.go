package webhooks

import (
	"context"
	"slices"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/apiclient"
	"github.com/xiadan/xiadan/ent/webhook"
	"github.com/xiadan/xiadan/ent/webhookdelivery"
)

// insertChunk bounds the rows of one INSERT, under SQLite's and MySQL's placeholder limits.
const insertChunk = 500

// EnqueueDeliveries creates a PENDING delivery, due now, of each event to every ACTIVE
// webhook of the event's merchant that wants its type. The relay calls it in the
// transaction that numbers the events, so a committed event always gets its deliveries
// and a rolled-back one never does. A repeated call creates nothing twice. It costs one
// query for the webhooks and one insert per 500 deliveries.
func EnqueueDeliveries(ctx context.Context, tx *ent.Client, events []*ent.OrderEvent) error {
	return enqueue(ctx, tx, events, time.Now().UTC())
}

// EnqueueDeliveries is the package's EnqueueDeliveries on the service's clock.
func (s *Service) EnqueueDeliveries(ctx context.Context, tx *ent.Client, events []*ent.OrderEvent) error {
	return enqueue(ctx, tx, events, s.now())
}

func enqueue(ctx context.Context, tx *ent.Client, events []*ent.OrderEvent, now time.Time) error {
	if len(events) == 0 {
		return nil
	}
	ctx = allow(ctx)
	var merchants []int
	for _, ev := range events {
		if !slices.Contains(merchants, ev.MerchantID) {
			merchants = append(merchants, ev.MerchantID)
		}
	}
	hooks, err := tx.Webhook.Query().
		Where(webhook.MerchantIDIn(merchants...), webhook.StatusEQ(webhook.StatusACTIVE)).
		Select(webhook.FieldID, webhook.FieldMerchantID, webhook.FieldEventTypes, webhook.FieldAPIClientID).All(ctx)
	if err != nil || len(hooks) == 0 {
		return err
	}
	if hooks, err = entitled(ctx, tx, hooks); err != nil || len(hooks) == 0 {
		return err
	}
	var rows []*ent.WebhookDeliveryCreate
	for _, ev := range events {
		for _, w := range hooks {
			if w.MerchantID != ev.MerchantID || (len(w.EventTypes) > 0 && !slices.Contains(w.EventTypes, string(ev.Type))) {
				continue
			}
			var position int64
			if ev.Position != nil {
				position = *ev.Position
			}
			rows = append(rows, tx.WebhookDelivery.Create().SetWebhookID(w.ID).SetEventID(ev.ID).
				SetEventPosition(position).SetEventType(string(ev.Type)).
				SetStatus(webhookdelivery.StatusPENDING).SetNextAttemptAt(now))
		}
	}
	for len(rows) > 0 {
		n := min(len(rows), insertChunk)
		if err := tx.WebhookDelivery.CreateBulk(rows[:n]...).
			OnConflictColumns(webhookdelivery.FieldWebhookID, webhookdelivery.FieldEventID).
			Ignore().Exec(ctx); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// entitled drops the webhooks of partner clients that may no longer receive the
// merchant's order events: revoked, no longer granted the merchant, or without the scopes
// (webhooks:manage and orders:read or orders:write). One query for the batch.
func entitled(ctx context.Context, tx *ent.Client, hooks []*ent.Webhook) ([]*ent.Webhook, error) {
	var ids []int
	for _, w := range hooks {
		if w.APIClientID != nil && !slices.Contains(ids, *w.APIClientID) {
			ids = append(ids, *w.APIClientID)
		}
	}
	if len(ids) == 0 {
		return hooks, nil
	}
	clients, err := tx.ApiClient.Query().Where(apiclient.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[int]*ent.ApiClient{}
	for _, c := range clients {
		byID[c.ID] = c
	}
	out := hooks[:0:0]
	for _, w := range hooks {
		if w.APIClientID == nil || clientMayReceive(byID[*w.APIClientID], w.MerchantID) {
			out = append(out, w)
		}
	}
	return out, nil
}

func clientMayReceive(c *ent.ApiClient, merchantID int) bool {
	return c != nil && c.RevokedAt == nil && slices.Contains(c.MerchantIds, merchantID) &&
		slices.Contains(c.Scopes, ManageScope) && readsOrders(c.Scopes)
}
