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

// memberGQL keeps the member entities out of entgql's generated inputs and orderings:
// their GraphQL is declared in schema/member.graphqls around internal/members.
var memberGQL = entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField,
	entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)

// MemberTier is a platform-wide VIP tier (internal/members): SILVER, GOLD, PLATINUM… ranked
// by level, earned by spend and/or paid orders over the rolling window, with its benefits.
// Everyone may read the tiers; only admins change them (through internal/members).
type MemberTier struct{ ent.Schema }

// Mixin of the MemberTier.
func (MemberTier) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the MemberTier.
func (MemberTier) Fields() []ent.Field {
	return []ent.Field{
		// SCREAMING_CASE, as audiences name it ("tier:GOLD").
		field.String("code").MaxRuneLen(32).NotEmpty().Unique(),
		field.String("name").MaxRuneLen(40).NotEmpty(),
		// Higher is better; unique, so tiers are totally ordered.
		field.Int("level").Positive(),
		// Thresholds over the window: spend in minor units of currency (net of refunds) and
		// paid orders. Null is no threshold; match_all needs every set one, else any.
		field.Int64("min_spend").Optional().Nillable().Annotations(entgql.Skip()),
		field.Int("min_orders").Optional().Nillable(),
		field.Bool("match_all").Default(false),
		// The tier discount in basis points (500 = 5% off), up to discount_cap per checkout.
		field.Int("discount_bps").Range(0, 10000).Default(0),
		field.Int64("discount_cap").Optional().Nillable().Annotations(entgql.Skip()),
		// Free shipping on each merchant's order whose goods come to free_shipping_min.
		field.Bool("free_shipping").Default(false),
		field.Int64("free_shipping_min").NonNegative().Default(0).Annotations(entgql.Skip()),
		// The currency of the amounts above (MEMBER_CURRENCY when created).
		field.String("currency").MinLen(3).MaxRuneLen(3).Default("CNY"),
	}
}

// Edges of the MemberTier.
func (MemberTier) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("memberships", Membership.Type).Annotations(entgql.Skip()),
		edge.To("prices", MemberPrice.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the MemberTier.
func (MemberTier) Indexes() []ent.Index {
	return []ent.Index{index.Fields("level").Unique()}
}

// Annotations of the MemberTier.
func (MemberTier) Annotations() []schema.Annotation {
	return []schema.Annotation{memberGQL}
}

// Policy of the MemberTier: public to read (the benefits are advertised); written by
// internal/members as the system after its admin check.
func (MemberTier) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysAllowRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Membership is a customer's current tier, as the recompute job (or an upgrade after
// payment) last set it, with the figures it was computed from. One row per customer who
// has been computed; no row, or a null tier, is no tier.
type Membership struct{ ent.Schema }

// Fields of the Membership.
func (Membership) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Unique().Immutable(),
		field.Int("tier_id").Optional().Nillable(),
		// Net spend (minor units of the tiers' currency) and paid orders over the window.
		field.Int64("spend").Default(0),
		field.Int("orders").Default(0),
		field.Time("computed_at").SchemaType(datetime6),
		// When the current tier was reached.
		field.Time("tier_since").SchemaType(datetime6).Optional().Nillable(),
		// Bumped by every recompute: the job claims a round with a write conditional on it.
		field.Int("version").Default(0),
	}
}

// Edges of the Membership.
func (Membership) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("tier", MemberTier.Type).Ref("memberships").Field("tier_id").Unique(),
	}
}

// Indexes of the Membership.
func (Membership) Indexes() []ent.Index {
	return []ent.Index{index.Fields("computed_at"), index.Fields("tier_id")}
}

// Annotations of the Membership.
func (Membership) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the Membership: the customer reads their own, admins any; only the system
// (internal/members) writes.
func (Membership) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterToOwnUser(),
		},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// MemberPrice is a merchant's price of one variant for members of one tier (and the tiers
// above it that have no lower price): below the list price, in the variant's currency.
// variant_id and merchant_id are plain columns: variants may be deleted, and a price of a
// deleted variant matches nothing.
type MemberPrice struct{ ent.Schema }

// Mixin of the MemberPrice.
func (MemberPrice) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the MemberPrice.
func (MemberPrice) Fields() []ent.Field {
	return []ent.Field{
		field.Int("variant_id").Immutable(),
		field.Int("tier_id").Immutable(),
		field.Int("merchant_id").Immutable(),
		field.Int64("price").Positive(),
		field.String("currency").MinLen(3).MaxRuneLen(3),
	}
}

// Edges of the MemberPrice.
func (MemberPrice) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("tier", MemberTier.Type).Ref("prices").Field("tier_id").Unique().Required().Immutable(),
	}
}

// Indexes of the MemberPrice.
func (MemberPrice) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("variant_id", "tier_id").Unique(),
		index.Fields("tier_id"),
	}
}

// Annotations of the MemberPrice.
func (MemberPrice) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the MemberPrice: public to read, as list prices are (GraphQL reaches them only
// through a variant the viewer may see); written by internal/members as the system after
// checking the variant is the merchant's.
func (MemberPrice) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysAllowRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// CustomerGroup is a merchant's group of its customers (such as 老客) for targeting
// coupons ("group:<id>"): members added by hand and/or by a rule the recompute job
// applies. Only the merchant's staff and admins see it; a customer never does.
type CustomerGroup struct{ ent.Schema }

// Mixin of the CustomerGroup.
func (CustomerGroup) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the CustomerGroup.
func (CustomerGroup) Fields() []ent.Field {
	return []ent.Field{
		field.Int("merchant_id").Immutable().Annotations(entgql.Skip()),
		field.String("name").MaxRuneLen(40).NotEmpty(),
		// The rule: customers with at least min_paid_orders paid orders and/or min_spend net
		// spend with the merchant (all time); both null is a manual-only group.
		field.Int("min_paid_orders").Optional().Nillable(),
		field.Int64("min_spend").Optional().Nillable().Annotations(entgql.Skip()),
		field.Time("computed_at").SchemaType(datetime6).Optional().Nillable(),
		field.Int("version").Default(0).Annotations(entgql.Skip()),
	}
}

// Edges of the CustomerGroup.
func (CustomerGroup) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("members", CustomerGroupMember.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the CustomerGroup.
func (CustomerGroup) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "name").Unique(),
		index.Fields("computed_at"),
	}
}

// Annotations of the CustomerGroup.
func (CustomerGroup) Annotations() []schema.Annotation {
	return []schema.Annotation{memberGQL}
}

// Policy of the CustomerGroup: the merchant's staff and admins.
func (CustomerGroup) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterCustomerGroupsToMembers(),
		},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// CustomerGroupMember puts a customer in a group, by hand (MANUAL) or by the group's rule
// (RULE); a customer may be in a group both ways, one row each.
type CustomerGroupMember struct{ ent.Schema }

// Fields of the CustomerGroupMember.
func (CustomerGroupMember) Fields() []ent.Field {
	return []ent.Field{
		field.Int("group_id").Immutable(),
		// Denormalised from the group for the privacy filter.
		field.Int("merchant_id").Immutable(),
		field.Int("user_id").Immutable(),
		field.Enum("source").Values("MANUAL", "RULE").Immutable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
	}
}

// Edges of the CustomerGroupMember.
func (CustomerGroupMember) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("group", CustomerGroup.Type).Ref("members").Field("group_id").Unique().Required().Immutable(),
	}
}

// Indexes of the CustomerGroupMember.
func (CustomerGroupMember) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("group_id", "user_id", "source").Unique(),
		index.Fields("user_id"),
	}
}

// Annotations of the CustomerGroupMember.
func (CustomerGroupMember) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the CustomerGroupMember: as its group's.
func (CustomerGroupMember) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterCustomerGroupsToMembers(),
		},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}
