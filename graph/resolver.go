// Package graph is the GraphQL layer: gqlgen's generated executor plus thin resolvers that
// read arguments, call one domain function or one Ent builder, and return.
package graph

import (
	"context"
	"errors"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/graph/model"
	"github.com/xiadan/xiadan/internal/aftersales"
	"github.com/xiadan/xiadan/internal/analytics"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/coupons"
	"github.com/xiadan/xiadan/internal/creators"
	"github.com/xiadan/xiadan/internal/credit"
	"github.com/xiadan/xiadan/internal/currency"
	"github.com/xiadan/xiadan/internal/datarights"
	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/experiments"
	"github.com/xiadan/xiadan/internal/fulfilment"
	"github.com/xiadan/xiadan/internal/helpcentre"
	"github.com/xiadan/xiadan/internal/i18n"
	"github.com/xiadan/xiadan/internal/members"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/payments"
	"github.com/xiadan/xiadan/internal/promotions"
	"github.com/xiadan/xiadan/internal/recommend"
	"github.com/xiadan/xiadan/internal/redpackets"
	"github.com/xiadan/xiadan/internal/reports"
	"github.com/xiadan/xiadan/internal/reviews"
	"github.com/xiadan/xiadan/internal/risk"
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
	// Coupons runs coupons; Orders.Promotions holds the providers checkout quotes.
	Coupons *coupons.Service
	// Promotions manages automatic promotions (满减, buy N get M, flash sales).
	Promotions *promotions.Service
	// Members runs VIP tiers, member prices and customer groups.
	Members *members.Service
	// RedPackets runs red-packet rains and wallets (internal/redpackets).
	RedPackets *redpackets.Service
	// ABTests runs A/B experiments; CreatorProgram creator attribution and commissions
	// (named apart from the experiments and creators queries, which the resolvers embed).
	ABTests        *experiments.Service
	CreatorProgram *creators.Service
	// Rates keeps exchange rates and implements @inContext(currency:) (internal/currency).
	Rates *currency.Service
	// Languages serves and edits translations (internal/i18n).
	Languages *i18n.Service
	// Risk scores orders and runs risk reviews and lists (internal/risk).
	Risk *risk.Service
	// DataRights answers export and erasure requests (internal/datarights).
	DataRights *datarights.Service
	// Analytics records behaviour events and answers dashboards (internal/analytics).
	Analytics *analytics.Service
	// Reports builds CSV and XLSX reports and their schedules (internal/reports).
	Reports *reports.Service
	// Recommend answers recommendations (internal/recommend).
	Recommend *recommend.Service
}

// NewSchema returns the executable schema with its resolvers and directives.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{
		Resolvers: r,
		Directives: DirectiveRoot{
			Auth:       authDirective,
			HasRole:    hasRoleDirective,
			IdsPerItem: idsPerItemDirective,
			InContext:  r.inContextDirective,
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
	if v.TOTPEnrolmentRequired && slices.Contains(roles, viewer.RoleAdmin) {
		return nil, &apperror.Error{Code: apperror.Forbidden, Extensions: map[string]any{"reason": "TOTP_ENROLMENT_REQUIRED"},
			Message: "admin accounts must turn on two-factor sign-in first (beginTotpEnrollment, then confirmTotpEnrollment)"}
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

// unadvertised hides a promotion aimed at an audience the viewer is not in (see
// promotions.Service.Advertised) from node and nodes, as if it did not exist.
func (r *queryResolver) unadvertised(ctx context.Context) func(n ent.Noder, err error) (ent.Noder, error) {
	return func(n ent.Noder, err error) (ent.Noder, error) {
		p, ok := n.(*ent.Promotion)
		if err != nil || !ok || r.Promotions == nil {
			return n, err
		}
		shown, err := r.Promotions.Advertised(ctx, r.db(ctx), p)
		if err != nil || !shown {
			return nil, err
		}
		return n, nil
	}
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

// inContextDirective implements @inContext(language:, currency:): the language through
// internal/i18n, the currency of indicative prices through internal/currency. A mutation
// never converts money, so it may not name a currency.
func (r *Resolver) inContextDirective(ctx context.Context, obj any, next graphql.Resolver, language, currency *string) (any, error) {
	if currency != nil && graphql.HasOperationContext(ctx) {
		if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation != ast.Query {
			return nil, apperror.BadInput("currency", "only a query presents prices in another currency; a %s is in the merchant's currency", op.Operation)
		}
	}
	return i18n.InContext(ctx, obj, func(ctx context.Context) (any, error) {
		return r.Rates.Directive(ctx, obj, next, currency)
	}, language)
}
