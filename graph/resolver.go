// Package graph is the GraphQL layer: gqlgen's generated executor plus thin resolvers that
// read arguments, call one domain function or one Ent builder, and return.
package graph

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/graph/model"
	"github.com/xiadan/xiadan/internal/aftersales"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/credit"
	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/fulfilment"
	"github.com/xiadan/xiadan/internal/helpcentre"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/payments"
	"github.com/xiadan/xiadan/internal/reviews"
	"github.com/xiadan/xiadan/internal/scalar"
	"github.com/xiadan/xiadan/internal/support"
	"github.com/xiadan/xiadan/internal/upload"
	"github.com/xiadan/xiadan/internal/viewer"
	"github.com/xiadan/xiadan/internal/webhooks"
)

// Resolver holds the dependencies every resolver may use.
type Resolver struct {
	Client     *ent.Client
	Auth       *auth.Service
	Orders     *orders.Service
	Payments   *payments.Service
	Fulfilment *fulfilment.Service
	Events     *events.Streamer
	Webhooks   *webhooks.Service
	Uploads    *upload.Service
	Reviews    *reviews.Service
	AfterSales *aftersales.Service
	// Support runs customer-service tickets; Help the help centre.
	Support *support.Service
	Help    *helpcentre.Service
	Credit  *credit.Service
}

// NewSchema returns the executable schema with its resolvers and directives.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{
		Resolvers: r,
		Directives: DirectiveRoot{
			Auth:       authDirective,
			HasRole:    hasRoleDirective,
			IdsPerItem: idsPerItemDirective,
		},
	})
}

// db returns the request's transactional client inside mutations, the base client otherwise.
func (r *Resolver) db(ctx context.Context) *ent.Client {
	if c := ent.FromContext(ctx); c != nil {
		return c
	}
	return r.Client
}

// authDirective implements @auth: the caller must be signed in.
func authDirective(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
	if !viewer.FromContext(ctx).Authenticated() {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to do this")
	}
	return next(ctx)
}

// hasRoleDirective implements @hasRole: the caller must hold one of the roles.
func hasRoleDirective(ctx context.Context, _ any, next graphql.Resolver, roles []viewer.Role) (any, error) {
	v := viewer.FromContext(ctx)
	if !v.Authenticated() {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to do this")
	}
	for _, role := range roles {
		if v.Has(role) {
			return next(ctx)
		}
	}
	return nil, apperror.New(apperror.Forbidden, "this needs one of the roles %v", roles)
}

// idsPerItemDirective implements @idsPerItem: the list argument is read with malformed
// ids as scalar.InvalidID, which the resolver reports item by item (scalar.BadItem).
func idsPerItemDirective(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
	return next(scalar.WithIDsPerItem(ctx))
}

// notFoundAsNil turns a missing (or invisible) record into a null result.
func notFoundAsNil[T any](v *T, err error) (*T, error) {
	if ent.IsNotFound(err) || errors.Is(err, privacy.Deny) {
		return nil, nil
	}
	return v, err
}

// notFoundAsNilNode is notFoundAsNil for node lookups.
func notFoundAsNilNode(n ent.Noder, err error) (ent.Noder, error) {
	if ent.IsNotFound(err) || errors.Is(err, privacy.Deny) {
		return nil, nil
	}
	return n, err
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// nonZero is nil for 0, a pointer to n otherwise: optional numbers kept as plain ints.
func nonZero(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// ratingSummary is the RatingSummary of a product's or merchant's rating aggregates.
func ratingSummary(average float64, count, withPhotos int, stars ...int) *model.RatingSummary {
	s := &model.RatingSummary{Average: average, Count: count, WithPhotosCount: withPhotos}
	for i, n := range stars {
		s.Distribution = append(s.Distribution, &model.RatingBucket{Stars: i + 1, Count: n})
	}
	return s
}
