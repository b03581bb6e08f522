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

// CouponTemplate is a coupon offer that customers claim (领券): issued by the platform
// (merchant_id null) or by a merchant.
type CouponTemplate struct{ ent.Schema }

// Mixin of the CouponTemplate.
func (CouponTemplate) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the CouponTemplate.
func (CouponTemplate) Fields() []ent.Field {
	return []ent.Field{
		field.Int("merchant_id").Optional().Nillable().Immutable().Comment("Null for a platform coupon."),
		field.String("name").MaxRuneLen(100).NotEmpty(),
		field.String("code").MaxRuneLen(32).Optional().Nillable().Unique().
			Comment("A private coupon is claimed with this code only (claimCouponByCode)."),
		field.Enum("kind").Values("FIXED", "PERCENT").Immutable(),
		field.Int64("amount").NonNegative().Default(0).Immutable().Comment("FIXED: minor units off."),
		field.Int("percent_bp").NonNegative().Default(0).Immutable().Comment("PERCENT: basis points off (1500 = 15%)."),
		field.Int64("max_discount").NonNegative().Default(0).Immutable().Comment("PERCENT: cap in minor units; 0 none."),
		field.Int64("threshold").NonNegative().Default(0).Immutable().Comment("满X: the lines in scope must come to this."),
		field.String("currency").MinLen(3).MaxRuneLen(3).Default("CNY").Immutable(),
		field.Enum("scope").Values("ALL", "MERCHANT", "CATEGORIES", "PRODUCTS").Immutable(),
		field.JSON("scope_ids", []int{}).Optional().Immutable().Comment("Category or product ids of a CATEGORIES or PRODUCTS scope."),
		field.Time("valid_from").SchemaType(datetime6).Optional().Nillable().Immutable(),
		field.Time("valid_until").SchemaType(datetime6).Optional().Nillable().Immutable(),
		field.Int("valid_days").NonNegative().Default(0).Immutable().Comment("When > 0, a claimed coupon is valid this many days from its claim."),
		field.Time("claim_starts_at").SchemaType(datetime6).Optional().Nillable(),
		field.Time("claim_ends_at").SchemaType(datetime6).Optional().Nillable(),
		field.Int("total_limit").NonNegative().Default(0).Comment("Claims in all; 0 unlimited."),
		field.Int("per_user_limit").Positive().Default(1),
		field.Int("claimed_count").NonNegative().Default(0).
			Comment("Kept by claims. Uses are counted from the coupons, not here: a counter on the template would serialise every checkout using it."),
		field.JSON("audiences", []string{}).Optional().Comment("Any of these audiences may claim (pricing.AudienceChecker); empty: everyone."),
		field.Enum("status").Values("ACTIVE", "PAUSED").Default("ACTIVE"),
		field.Int("created_by").Default(0).Immutable(),
	}
}

// Indexes of the CouponTemplate.
func (CouponTemplate) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "status"), index.Fields("status", "claim_ends_at")}
}

// Annotations of the CouponTemplate: served by internal/coupons, not as a node.
func (CouponTemplate) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the CouponTemplate: internal/coupons reads and writes it as the system after
// checking who the caller is.
func (CouponTemplate) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// Coupon is one claimed coupon of one customer.
type Coupon struct{ ent.Schema }

// Fields of the Coupon.
func (Coupon) Fields() []ent.Field {
	return []ent.Field{
		field.Int("template_id").Immutable(),
		field.Int("user_id").Immutable(),
		field.Int("seq").Positive().Immutable().
			Comment("The user's nth claim of the template: unique with them, so the per-user limit is the database's."),
		field.Int("merchant_id").Optional().Nillable().Immutable().Comment("The template's; null for a platform coupon."),
		field.Enum("status").Values("AVAILABLE", "USED", "EXPIRED").Default("AVAILABLE"),
		field.Time("valid_from").SchemaType(datetime6).Immutable(),
		field.Time("valid_until").SchemaType(datetime6).Immutable(),
		field.Int("order_id").Optional().Nillable().Comment("The order that used it; a platform coupon spread over several orders names the first (OrderAdjustment has every share)."),
		field.Time("used_at").SchemaType(datetime6).Optional().Nillable(),
		field.Time("claimed_at").SchemaType(datetime6).Immutable(),
	}
}

// Indexes of the Coupon.
func (Coupon) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("template_id", "user_id", "seq").Unique(),
		index.Fields("user_id", "status", "valid_until"),
		index.Fields("order_id"),
	}
}

// Annotations of the Coupon: served by internal/coupons, not as a node.
func (Coupon) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the Coupon: its owner sees it; internal/coupons writes it as the system.
func (Coupon) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), rule.FilterToOwnUser()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}
