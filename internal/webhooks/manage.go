package webhooks

import (
	"context"
	"slices"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/webhook"
	"github.com/xiadan/xiadan/ent/webhookattempt"
	"github.com/xiadan/xiadan/ent/webhookdelivery"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/partners"
	"github.com/xiadan/xiadan/internal/viewer"
)

// ManageScope is the partner scope needed to manage webhooks.
const ManageScope = partners.ScopeWebhooksManage

// readsOrders reports whether a partner client's scopes let it receive order events.
func readsOrders(scopes []string) bool {
	return slices.Contains(scopes, partners.ScopeOrdersRead) || slices.Contains(scopes, partners.ScopeOrdersWrite)
}

// MaxPerMerchant is the most webhooks a merchant may have.
const MaxPerMerchant = 10

// SecretOverlap is how long the previous secret keeps signing after a rotation.
const SecretOverlap = 24 * time.Hour

// maxPage is the largest page of deliveries.
const maxPage = 100

// CreateInput registers a webhook.
type CreateInput struct {
	MerchantID int
	URL        string
	// Types are the event types delivered; empty means all.
	Types []orderevent.Type
}

// UpdateInput changes a webhook; nil fields stay as they are.
type UpdateInput struct {
	URL *string
	// Types replaces the event types when non-nil; an empty, non-nil slice means all.
	Types []orderevent.Type
	// Enabled re-enables a disabled webhook (resetting its failure count) or disables it.
	Enabled *bool
}

// authorize checks that the caller may manage the webhooks of merchant id. Staff of other
// merchants and partners not granted it get NOT_FOUND, so nothing tells them it exists.
func authorize(ctx context.Context, merchantID int) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	switch {
	case v.System || v.IsAdmin() || v.IsMerchantMember(merchantID):
		return v, nil
	case !v.Authenticated():
		return nil, apperror.New(apperror.Unauthenticated, "sign in to do this")
	case v.Has(viewer.RolePartner):
		if !v.HasScope(ManageScope) {
			return nil, apperror.New(apperror.Forbidden, "this needs the %s scope", ManageScope)
		}
		// Webhooks deliver order events: a partner must also be allowed to read orders.
		if !readsOrders(v.Scopes) {
			return nil, apperror.New(apperror.Forbidden, "webhooks deliver order events: this also needs the orders:read scope")
		}
		if v.ActsForMerchant(merchantID) {
			return v, nil
		}
		return nil, apperror.NotFoundf("merchant not found")
	case v.Has(viewer.RoleMerchant):
		return nil, apperror.NotFoundf("merchant not found")
	}
	return nil, apperror.New(apperror.Forbidden, "only the merchant's staff, its partners and admins manage webhooks")
}

// partnerOnly reports whether v sees only its own webhooks: a partner client that is
// neither the merchant's staff nor an admin.
func partnerOnly(v *viewer.Viewer, merchantID int) bool {
	return !v.System && !v.IsAdmin() && !v.IsMerchantMember(merchantID)
}

// load returns webhook id if the caller may manage it, NOT_FOUND otherwise.
func (s *Service) load(ctx context.Context, db *ent.Client, id int) (*ent.Webhook, error) {
	w, err := db.Webhook.Get(allow(ctx), id)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("webhook not found")
	}
	if err != nil {
		return nil, err
	}
	if err := canManage(ctx, w); err != nil {
		return nil, err
	}
	return w, nil
}

func canManage(ctx context.Context, w *ent.Webhook) error {
	v, err := authorize(ctx, w.MerchantID)
	if code := apperror.CodeOf(err); code == apperror.NotFound {
		return apperror.NotFoundf("webhook not found")
	} else if err != nil {
		return err
	}
	if partnerOnly(v, w.MerchantID) && (w.APIClientID == nil || *w.APIClientID != v.APIClientID) {
		return apperror.NotFoundf("webhook not found")
	}
	return nil
}

// List returns the webhooks of a merchant the caller may see, oldest first.
func (s *Service) List(ctx context.Context, merchantID int) ([]*ent.Webhook, error) {
	v, err := authorize(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	q := s.db(ctx).Webhook.Query().Where(webhook.MerchantID(merchantID)).Order(webhook.ByID())
	if partnerOnly(v, merchantID) {
		q.Where(webhook.APIClientID(v.APIClientID))
	}
	return q.All(allow(ctx))
}

// Create registers a webhook and returns it with its signing secret, which is never shown
// again.
func (s *Service) Create(ctx context.Context, in CreateInput) (*ent.Webhook, string, error) {
	v, err := authorize(ctx, in.MerchantID)
	if err != nil {
		return nil, "", err
	}
	url, err := s.checkURL(ctx, "url", in.URL)
	if err != nil {
		return nil, "", err
	}
	types, err := eventTypes(in.Types)
	if err != nil {
		return nil, "", err
	}
	secret, err := newSecret()
	if err != nil {
		return nil, "", err
	}
	var w *ent.Webhook
	err = s.inTx(ctx, func(tx *ent.Client) error {
		actx := allow(ctx)
		// The merchant's row serializes concurrent creates, so the limit holds.
		if _, err := tx.Merchant.Query().Where(merchant.ID(in.MerchantID), hooks.LockRows).Only(actx); ent.IsNotFound(err) {
			return apperror.NotFoundf("merchant not found")
		} else if err != nil {
			return err
		}
		n, err := tx.Webhook.Query().Where(webhook.MerchantID(in.MerchantID)).Count(actx)
		if err != nil {
			return err
		}
		if n >= MaxPerMerchant {
			return apperror.ConflictOn("merchantID", "a merchant has at most %d webhooks; delete one first", MaxPerMerchant)
		}
		c := tx.Webhook.Create().SetMerchantID(in.MerchantID).SetURL(url).SetEventTypes(types).SetSecret(secret)
		if partnerOnly(v, in.MerchantID) {
			c.SetAPIClientID(v.APIClientID)
		}
		w, err = c.Save(actx)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return w, secret, nil
}

// Update changes a webhook's URL, event types or enabled state.
func (s *Service) Update(ctx context.Context, id int, in UpdateInput) (*ent.Webhook, error) {
	db := s.db(ctx)
	w, err := s.load(ctx, db, id)
	if err != nil {
		return nil, err
	}
	u := db.Webhook.UpdateOne(w)
	if in.URL != nil {
		url, err := s.checkURL(ctx, "url", *in.URL)
		if err != nil {
			return nil, err
		}
		u.SetURL(url)
	}
	if in.Types != nil {
		types, err := eventTypes(in.Types)
		if err != nil {
			return nil, err
		}
		u.SetEventTypes(types)
	}
	if in.Enabled != nil {
		if *in.Enabled {
			u.SetStatus(webhook.StatusACTIVE).SetDisabledReason("").SetConsecutiveFailures(0).ClearFailingSince()
		} else if w.Status == webhook.StatusACTIVE {
			u.SetStatus(webhook.StatusDISABLED).SetDisabledReason("disabled by its owner")
		}
	}
	return u.Save(allow(ctx))
}

// Delete removes a webhook with its deliveries and their attempts.
func (s *Service) Delete(ctx context.Context, id int) error {
	return s.inTx(ctx, func(tx *ent.Client) error {
		w, err := s.load(ctx, tx, id)
		if err != nil {
			return err
		}
		actx := allow(ctx)
		if _, err := tx.WebhookAttempt.Delete().
			Where(webhookattempt.HasDeliveryWith(webhookdelivery.WebhookID(w.ID))).Exec(actx); err != nil {
			return err
		}
		if _, err := tx.WebhookDelivery.Delete().Where(webhookdelivery.WebhookID(w.ID)).Exec(actx); err != nil {
			return err
		}
		return tx.Webhook.DeleteOne(w).Exec(actx)
	})
}

// RotateSecret gives a webhook a new signing secret, returned once. The previous secret
// signs too, as a second v1, for SecretOverlap, so receivers can switch without a gap.
func (s *Service) RotateSecret(ctx context.Context, id int) (*ent.Webhook, string, error) {
	db := s.db(ctx)
	w, err := s.load(ctx, db, id)
	if err != nil {
		return nil, "", err
	}
	secret, err := newSecret()
	if err != nil {
		return nil, "", err
	}
	w, err = db.Webhook.UpdateOne(w).SetSecret(secret).SetPreviousSecret(w.Secret).
		SetPreviousSecretExpiresAt(s.now().Add(SecretOverlap)).Save(allow(ctx))
	if err != nil {
		return nil, "", err
	}
	return w, secret, nil
}

// Deliveries lists a webhook's deliveries, newest first, with their attempts when asked for.
func (s *Service) Deliveries(ctx context.Context, webhookID int, after *entgql.Cursor[int], first *int,
	before *entgql.Cursor[int], last *int) (*ent.WebhookDeliveryConnection, error) {
	db := s.db(ctx)
	if _, err := s.load(ctx, db, webhookID); err != nil {
		return nil, err
	}
	for field, n := range map[string]*int{"first": first, "last": last} {
		if n != nil && (*n < 0 || *n > maxPage) {
			return nil, apperror.BadInput(field, "must be between 0 and %d", maxPage)
		}
	}
	if first == nil && last == nil {
		n := 20
		first = &n
	}
	return db.WebhookDelivery.Query().Where(webhookdelivery.WebhookID(webhookID)).
		Paginate(allow(ctx), after, first, before, last, ent.WithWebhookDeliveryOrder(&ent.WebhookDeliveryOrder{
			Direction: entgql.OrderDirectionDesc, Field: ent.WebhookDeliveryOrderFieldCreatedAt}))
}

// Redeliver schedules a delivery to be sent again now, whatever its status; its earlier
// attempts stay in the log. A failed redelivery of a delivery that had given up is not
// retried again.
func (s *Service) Redeliver(ctx context.Context, deliveryID int) (*ent.WebhookDelivery, error) {
	db := s.db(ctx)
	d, err := db.WebhookDelivery.Get(allow(ctx), deliveryID)
	if ent.IsNotFound(err) {
		return nil, apperror.NotFoundf("delivery not found")
	} else if err != nil {
		return nil, err
	}
	w, err := s.load(ctx, db, d.WebhookID)
	if apperror.CodeOf(err) == apperror.NotFound {
		return nil, apperror.NotFoundf("delivery not found")
	} else if err != nil {
		return nil, err
	}
	if w.Status != webhook.StatusACTIVE {
		return nil, apperror.WrongState(string(w.Status), "enable the webhook before redelivering")
	}
	return db.WebhookDelivery.UpdateOne(d).SetStatus(webhookdelivery.StatusPENDING).
		SetNextAttemptAt(s.now()).Save(allow(ctx))
}

func eventTypes(in []orderevent.Type) ([]string, error) {
	out := make([]string, 0, len(in))
	seen := map[orderevent.Type]bool{}
	for _, t := range in {
		if err := orderevent.TypeValidator(t); err != nil {
			return nil, apperror.BadInput("types", "%q is not an order event type", t)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, string(t))
		}
	}
	return out, nil
}
