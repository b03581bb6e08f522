package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/rule"
)

// Creator is a user's creator (KOL/达人) profile (internal/creators): they apply, an admin
// approves, and from then on orders placed through their codes within the attribution
// window earn them commission from merchants that opted in.
type Creator struct{ ent.Schema }

// Mixin of the Creator.
func (Creator) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Creator.
func (Creator) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Unique().Immutable(),
		field.String("display_name").MaxRuneLen(64).NotEmpty(),
		field.Enum("status").Values("PENDING", "APPROVED", "SUSPENDED").Default("PENDING"),
		field.Time("approved_at").SchemaType(datetime6).Optional().Nillable(),
	}
}

// Edges of the Creator.
func (Creator) Edges() []ent.Edge {
	return []ent.Edge{edge.To("links", CreatorLink.Type)}
}

// Annotations of the Creator.
func (Creator) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the Creator: the creator and admins see it; internal/creators writes it as the
// system after its own checks.
func (Creator) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), rule.FilterToUserField("user_id")},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// CreatorLink is a creator's code: a general one (no merchant), or one for a merchant or a
// product, which credits only that merchant's orders.
type CreatorLink struct{ ent.Schema }

// Fields of the CreatorLink.
func (CreatorLink) Fields() []ent.Field {
	return []ent.Field{
		field.Int("creator_id").Immutable(),
		// Denormalised so the privacy filter needs no join.
		field.Int("creator_user_id").Immutable(),
		// Upper-case letters and digits, 4 to 32 (internal/creators.NormaliseCode).
		field.String("code").MaxRuneLen(32).NotEmpty().Unique().Immutable(),
		field.Int("merchant_id").Optional().Nillable().Immutable(),
		field.Int("product_id").Optional().Nillable().Immutable(),
		field.Time("created_at").SchemaType(datetime6).Immutable(),
	}
}

// Edges of the CreatorLink.
func (CreatorLink) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("creator", Creator.Type).Ref("links").Field("creator_id").Unique().Required().Immutable(),
	}
}

// Annotations of the CreatorLink.
func (CreatorLink) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the CreatorLink: its creator and admins.
func (CreatorLink) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), rule.FilterToUserField("creator_user_id")},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// CreatorClick is a buyer's arrival through a creator's code (or the code given at
// checkout). The latest click that applies to an order's merchant and is within the
// merchant's window wins (last click).
type CreatorClick struct{ ent.Schema }

// Fields of the CreatorClick.
func (CreatorClick) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Immutable(),
		field.Int("creator_id").Immutable(),
		field.Int("link_id").Immutable(),
		field.Int("merchant_id").Optional().Nillable().Immutable(),
		field.Time("clicked_at").SchemaType(datetime6).Immutable(),
	}
}

// Indexes of the CreatorClick.
func (CreatorClick) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "clicked_at")}
}

// Annotations of the CreatorClick.
func (CreatorClick) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the CreatorClick: who came through whom is for admins and the system only —
// a creator never learns who their buyers are.
func (CreatorClick) Policy() ent.Policy { return adminOnlyPolicy() }

// CommissionRule is a merchant's opt-in to creator commissions: a rate in basis points,
// optional rates per category, and its attribution window.
type CommissionRule struct{ ent.Schema }

// Mixin of the CommissionRule.
func (CommissionRule) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the CommissionRule.
func (CommissionRule) Fields() []ent.Field {
	return []ent.Field{
		field.Int("merchant_id").Unique().Immutable(),
		field.Bool("active").Default(true),
		field.Int("rate_bps").Range(0, 10000),
		// Category id (as a decimal string: JSON keys) → basis points; a line of another
		// category earns rate_bps.
		field.JSON("category_rates", map[string]int{}).Default(map[string]int{}),
		// Days after a click in which orders are credited; 0 uses the platform default.
		field.Int("window_days").Range(0, 90).Default(0),
	}
}

// Annotations of the CommissionRule.
func (CommissionRule) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the CommissionRule: the merchant's members and admins read it; internal/creators
// writes it as the system after checking the merchant's owner asked.
func (CommissionRule) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), rule.FilterCommissionRulesToMembers()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Commission is what one attributed order earns its creator: PENDING until the order has
// completed and the holding period passed, then SETTLABLE; refunds reverse it in proportion
// and a full cancellation reverses it all (REVERSED).
type Commission struct{ ent.Schema }

// Mixin of the Commission.
func (Commission) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Commission.
func (Commission) Fields() []ent.Field {
	return []ent.Field{
		field.Int("creator_id").Immutable(),
		// Denormalised so the privacy filter needs no join.
		field.Int("creator_user_id").Immutable(),
		field.Int("link_id").Immutable(),
		field.Int("merchant_id").Immutable(),
		field.Int("order_id").Unique().Immutable(),
		field.String("currency").MaxRuneLen(3).Immutable(),
		// Base is the order's goods net of discounts (no shipping); amount what it earns.
		field.Int64("base").NonNegative().Immutable(),
		field.Int64("amount").NonNegative().Immutable(),
		// Goods refunded so far (capped at base) and the commission they took back.
		field.Int64("refunded_base").NonNegative().Default(0),
		field.Int64("reversed").NonNegative().Default(0),
		field.Enum("status").Values("PENDING", "SETTLABLE", "REVERSED").Default("PENDING"),
		field.Time("settlable_at").SchemaType(datetime6).Optional().Nillable(),
	}
}

// Edges of the Commission.
func (Commission) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("order", Order.Type).Field("order_id").Unique().Required().Immutable(),
	}
}

// Indexes of the Commission.
func (Commission) Indexes() []ent.Index {
	return []ent.Index{
		// One commission per order: Ent makes no unique index of an edge's field by itself.
		index.Fields("order_id").Unique(),
		index.Fields("creator_id", "created_at"),
		index.Fields("merchant_id", "created_at"),
		index.Fields("status", "created_at"),
	}
}

// Annotations of the Commission.
func (Commission) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the Commission: its creator, the order's merchant's members and admins read
// it; only internal/creators, as the system, writes it.
func (Commission) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), rule.FilterCommissionsToParties()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}
