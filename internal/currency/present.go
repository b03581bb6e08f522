package currency

import (
	"context"
	"slices"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/money"
)

// Presented are the GraphQL object types whose Money fields are storefront prices and so
// carry a converted amount. Every other Money — carts, checkout, orders, payments,
// refunds, commissions, coupons — is a settlement amount and is never converted.
var Presented = []string{"ProductVariant", "PriceRange", "FlashSale", "FlashSaleItem", "VariantMemberPrice", "Merchant"}

type ctxKey struct{}

// presentment is one request's chosen currency and the rates it uses: read once per
// request, so every price on a page converts at the same rates and a page of any size
// costs at most one statement (none while the process cache is fresh).
type presentment struct {
	currency string
	rates    *Service
	once     sync.Once
	snap     *Snapshot
	err      error
}

func (p *presentment) snapshot(ctx context.Context) (*Snapshot, error) {
	p.once.Do(func() { p.snap, p.err = p.rates.Current(ctx) })
	return p.snap, p.err
}

// Directive implements @inContext(currency:): an ISO 4217 code makes the query's
// storefront prices carry converted amounts; an unknown code is BAD_USER_INPUT on currency.
func (s *Service) Directive(ctx context.Context, _ any, next graphql.Resolver, currency *string) (any, error) {
	if currency == nil || s == nil { // s is nil in schema-only uses (validation tests)
		return next(ctx)
	}
	code, ok := money.Normalize(*currency)
	if !ok {
		return nil, apperror.BadInput("currency", "%q is not an ISO 4217 currency code", *currency)
	}
	return next(context.WithValue(ctx, ctxKey{}, &presentment{currency: code, rates: s}))
}

// Chosen returns the currency the query chose with @inContext, or "".
func Chosen(ctx context.Context) string {
	if p, ok := ctx.Value(ctxKey{}).(*presentment); ok {
		return p.currency
	}
	return ""
}

// Present is m in the query's chosen currency, or why not: both nil when no currency was
// chosen; SETTLEMENT_AMOUNT when m is not a storefront price (the field holding it belongs
// to a type outside Presented). A failure to read the rates is logged by the caller's
// error presenter as the error it is.
func Present(ctx context.Context, m *money.Money) (*Indicative, *Unavailable, error) {
	p, ok := ctx.Value(ctxKey{}).(*presentment)
	if !ok || m == nil {
		return nil, nil, nil
	}
	if !storefrontPrice(ctx) {
		u := SettlementAmount
		return nil, &u, nil
	}
	snap, err := p.snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	cfg := p.rates.Config
	ind, why := snap.Convert(*m, p.currency, p.rates.now(), cfg.MaxAge)
	if ind == nil {
		return nil, &why, nil
	}
	return ind, nil, nil
}

// storefrontPrice reports whether the Money being resolved is a field of a Presented type:
// the field context's parent is the field that returned the Money.
func storefrontPrice(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Parent == nil {
		return false
	}
	return slices.Contains(Presented, fc.Parent.Object)
}

// Converted is Money.converted: m in the query's chosen currency, or nil.
func Converted(ctx context.Context, m *money.Money) (*Indicative, error) {
	ind, _, err := Present(ctx, m)
	return ind, err
}

// WhyNotConverted is Money.convertedUnavailable: why m has no converted amount although
// the query chose a currency, or nil.
func WhyNotConverted(ctx context.Context, m *money.Money) (*Unavailable, error) {
	_, why, err := Present(ctx, m)
	return why, err
}
