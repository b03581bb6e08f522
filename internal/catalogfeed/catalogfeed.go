// Package catalogfeed records every change to what the storefront shows (products,
// variants, merchants, categories, promotions, and whatever other packages report, such
// as translations and exchange rates) in an outbox table, in the change's own
// transaction, and feeds the committed changes to each replica in id order, without
// loss, so the storefront cache and search indexes follow the catalog.
//
// Writers: Register installs Ent hooks on a client; other packages call Record with
// their transaction's client. Readers: a Feed per process polls the table (at least every
// 200 ms), is nudged at once after a local commit and, with Redis, after a commit on any
// replica, and calls its subscribers with each batch of new changes.
package catalogfeed

import (
	"context"
	"fmt"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/privacy"
)

// Kinds of catalog data a change is about (CatalogChange.entity).
const (
	Product     = "PRODUCT"
	Variant     = "VARIANT"
	Merchant    = "MERCHANT"
	Category    = "CATEGORY"
	Promotion   = "PROMOTION"
	Review      = "REVIEW"
	Translation = "TRANSLATION"
	Rate        = "RATE"
	Synonym     = "SYNONYM"
)

// Record writes one change row per id (one with entity id 0 when ids is empty) through
// client. Pass the client of the transaction that makes the change (ent.FromContext,
// a mutation's Client()), so the rows commit or roll back with it; the feeds of every
// replica are told once it commits.
func Record(ctx context.Context, client *ent.Client, entity string, ids ...int) error {
	if len(ids) == 0 {
		ids = []int{0}
	}
	ctx = privacy.DecisionContext(ctx, privacy.Allow)
	creates := make([]*ent.CatalogChangeCreate, len(ids))
	for i, id := range ids {
		creates[i] = client.CatalogChange.Create().SetEntity(entity).SetEntityID(id)
	}
	if err := client.CatalogChange.CreateBulk(creates...).Exec(ctx); err != nil {
		return fmt.Errorf("recording a %s change: %w", entity, err)
	}
	return nil
}
