// Package loader holds the per-request dataloaders (graph-gophers/dataloader v7) that batch
// lookups Ent field collection cannot express, such as aggregates, cross-entity reads and
// the pages of nested connections.
package loader

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/members"
)

// Loaders are the dataloaders of one request. They read as the request's viewer, so
// privacy rules apply to every batch, and inside a mutation they read through its
// transaction. A nil *Loaders (no middleware, as in direct calls) still answers, with
// one query per call.
type Loaders struct {
	client        *ent.Client
	productStatus *dataloader.Loader[int, product.Status]
	productCount  *dataloader.Loader[int, int]
	paymentShare  *dataloader.Loader[int, PaymentShare]
	// The pages of nested connections (pages.go).
	merchantProducts *pageLoader[*ent.ProductConnection]
	categoryProducts *pageLoader[*ent.ProductConnection]
	// categoryTreeProducts pages a category's products with its descendants'.
	categoryTreeProducts *pageLoader[*ent.ProductConnection]
	// exactStock says which merchants show their exact stock to everyone.
	exactStock     *dataloader.Loader[int, bool]
	productReviews *pageLoader[*ent.ReviewConnection]
	// ext holds other packages' loaders of the request (ext.go).
	ext ext
	// memberPrices are variants' member prices (member.go).
	memberPrices *dataloader.Loader[members.VariantKey, []*members.VariantPrice]
	// counts outlives the request: the middleware's (counts.go).
	counts *CountCache
}

type ctxKey struct{}

// Middleware builds fresh loaders for every request.
//
// A websocket request lives as long as its connection, so its loaders keep no cache:
// a subscription event must not see values read for an earlier one. They still batch.
//
// wait is how long each loader collects keys before sending a batch (0: the default,
// 16ms).
func Middleware(client *ent.Client, wait time.Duration, next http.Handler) http.Handler {
	return MiddlewareWithCounts(client, wait, NewCountCache(CountTTL), next)
}

// MiddlewareWithCounts is Middleware sharing counts, the process's count cache.
func MiddlewareWithCounts(client *ent.Client, wait time.Duration, counts *CountCache, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := newLoaders(client, true, wait)
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			l = newLoaders(client, false, wait)
		}
		l.counts = counts
		ctx := context.WithValue(r.Context(), ctxKey{}, l)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// New returns loaders reading through client, caching what they read.
func New(client *ent.Client) *Loaders { return newLoaders(client, true, 0) }

func newLoaders(client *ent.Client, cached bool, wait time.Duration) *Loaders {
	l := &Loaders{client: client, ext: ext{cached: cached, wait: wait}}
	l.productStatus = dataloader.NewBatchedLoader(l.loadProductStatuses, options[int, product.Status](cached, wait)...)
	l.productCount = dataloader.NewBatchedLoader(l.loadProductCounts, options[int, int](cached, wait)...)
	l.paymentShare = dataloader.NewBatchedLoader(l.loadPaymentShares, options[int, PaymentShare](cached, wait)...)
	l.merchantProducts = newPageLoader(l.productPages(product.FieldMerchantID, func(p *ent.Product) int { return p.MerchantID }, false), cached, wait)
	categoryOf := func(p *ent.Product) int {
		if p.CategoryID == nil {
			return 0
		}
		return *p.CategoryID
	}
	l.categoryProducts = newPageLoader(l.productPages(product.FieldCategoryID, categoryOf, false), cached, wait)
	l.categoryTreeProducts = newPageLoader(l.productPages(product.FieldCategoryID, categoryOf, true), cached, wait)
	l.exactStock = dataloader.NewBatchedLoader(l.loadExactStock, options[int, bool](cached, wait)...)
	l.productReviews = newPageLoader(l.reviewPages, cached, wait)
	l.memberPrices = dataloader.NewBatchedLoader(l.loadMemberPrices, options[members.VariantKey, []*members.VariantPrice](cached, wait)...)
	return l
}

func options[K comparable, V any](cached bool, wait time.Duration) []dataloader.Option[K, V] {
	var opts []dataloader.Option[K, V]
	if wait > 0 {
		opts = append(opts, dataloader.WithWait[K, V](wait))
	}
	if !cached {
		opts = append(opts, dataloader.WithCache[K, V](&dataloader.NoCache[K, V]{}))
	}
	return opts
}

// For returns the request's loaders, or nil outside a request.
func For(ctx context.Context) *Loaders {
	l, _ := ctx.Value(ctxKey{}).(*Loaders)
	return l
}

// db is the client a batch reads through: the request's transaction inside a mutation.
func (l *Loaders) db(ctx context.Context) *ent.Client {
	if c := ent.FromContext(ctx); c != nil {
		return c
	}
	return l.client
}
