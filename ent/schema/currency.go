package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/rule"
)

// ExchangeRate is one recorded price of a currency: 1 base = rate quote, from source, in
// force from effective_at. Rows are never changed or deleted, so the table is the rates'
// history; a pair's current rate is its row with the latest effective_at (then the highest
// id). Rates only present indicative prices (internal/currency, docs/CURRENCIES.md):
// nothing is ever settled in them.
type ExchangeRate struct{ ent.Schema }

// Fields of the ExchangeRate.
func (ExchangeRate) Fields() []ent.Field {
	return []ent.Field{
		// ISO 4217 codes (internal/money.Known), checked by internal/currency.
		field.String("base").MinLen(3).MaxRuneLen(3).Immutable(),
		field.String("quote").MinLen(3).MaxRuneLen(3).Immutable(),
		// An exact positive decimal in canonical form (no exponent, no trailing zeros), such
		// as "0.1376": never a float.
		field.String("rate").NotEmpty().MaxRuneLen(32).Immutable(),
		// "admin" for a rate an admin set; a provider's name (such as "frankfurter") for a
		// fetched one.
		field.String("source").NotEmpty().MaxRuneLen(32).Immutable(),
		field.Time("effective_at").SchemaType(datetime6).Immutable().
			Annotations(entgql.OrderField("EFFECTIVE_AT")),
		field.Int("set_by_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
	}
}

// Indexes of the ExchangeRate.
func (ExchangeRate) Indexes() []ent.Index {
	return []ent.Index{
		// The current rate of each pair is the newest row of its (base, quote) group.
		index.Fields("base", "quote", "effective_at"),
	}
}

// Annotations of the ExchangeRate.
func (ExchangeRate) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
	}
}

// Policy of the ExchangeRate: admins read and record rates (internal/currency); the
// storefront's rate cache reads them as the system. Rows are append-only: updates and
// deletes are refused to everyone.
func (ExchangeRate) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{
			rule.DenyUnlessCreate(),
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			privacy.AlwaysDenyRule(),
		},
	}
}
