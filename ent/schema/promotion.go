package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/rule"
)

// Promotion is a merchant's automatic promotion (internal/promotions,
// docs/PROMOTIONS-automatic.md): a full reduction (满减), buy N get M, or a flash sale
// (秒杀) whose variants and prices are its FlashSaleItems. It applies at checkout while
// ACTIVE and within [starts_at, ends_at), to the customers of its audiences (everyone
// when none).
type Promotion struct{ ent.Schema }

// Mixin of the Promotion.
func (Promotion) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Promotion.
func (Promotion) Fields() []ent.Field {
	skip := entgql.Skip()
	return []ent.Field{
		field.Int("merchant_id").Immutable().Annotations(skip),
		field.Enum("kind").Values("FULL_REDUCTION", "BUY_N_GET_M", "FLASH_SALE").Immutable(),
		field.String("label").MaxRuneLen(64).NotEmpty().
			Comment("Shown to customers, such as 满200减30 or 限时秒杀."),
		field.Enum("status").Values("DRAFT", "ACTIVE", "PAUSED", "ENDED").Default("DRAFT").
			Annotations(skip).Comment("As set by the merchant; the API shows ENDED once ends_at has passed."),
		field.Time("starts_at").SchemaType(datetime6),
		field.Time("ends_at").SchemaType(datetime6),
		field.String("currency").MinLen(3).MaxRuneLen(3).Immutable().Annotations(skip),
		field.Enum("scope").Values("SHOP", "CATEGORIES", "PRODUCTS").Default("SHOP"),
		field.JSON("category_ids", []int{}).Default([]int{}).Annotations(skip),
		field.JSON("product_ids", []int{}).Default([]int{}).Annotations(skip),
		field.JSON("audiences", []string{}).Default([]string{}).Annotations(skip).
			Comment(`Names such as "tier:GOLD"; the promotion applies to a customer in any of them.`),
		field.JSON("tiers", []schematype.PromotionTier{}).Default([]schematype.PromotionTier{}).Annotations(skip).
			Comment("FULL_REDUCTION: thresholds and amounts off, in minor units, ascending."),
		field.Bool("repeating").Default(false).
			Comment("FULL_REDUCTION with one tier: off for every full threshold (每满100减10)."),
		field.Int64("max_off").NonNegative().Default(0).Annotations(skip).
			Comment("Repeating FULL_REDUCTION: the most taken off an order; 0 for no cap."),
		field.Int("buy_quantity").NonNegative().Default(0),
		field.Int("free_quantity").NonNegative().Default(0),
		field.Int("per_user_limit").NonNegative().Default(0).
			Comment("FLASH_SALE: units of each variant one customer may buy at the flash price; 0 for no limit."),
		field.Int("created_by").Optional().Nillable().Immutable().Annotations(skip),
	}
}

// Edges of the Promotion.
func (Promotion) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("merchant", Merchant.Type).Field("merchant_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
		edge.To("flash_items", FlashSaleItem.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the Promotion.
func (Promotion) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "status", "ends_at"),
		index.Fields("status", "ends_at"),
	}
}

// Annotations of the Promotion.
func (Promotion) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.Skip(entgql.SkipWhereInput)}
}

// Policy of the Promotion: running ones (ACTIVE, in their window, of an open merchant) are
// public; a merchant's members see all of theirs; written by internal/promotions, as the
// system, after its own checks.
func (Promotion) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterPromotionsToVisible(),
		},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// FlashSaleItem is one variant of a FLASH_SALE promotion: its promotional price and its
// own stock cap. sold changes only by a conditional UPDATE (sold + q <= cap) at checkout.
type FlashSaleItem struct{ ent.Schema }

// Fields of the FlashSaleItem.
func (FlashSaleItem) Fields() []ent.Field {
	return []ent.Field{
		field.Int("promotion_id").Immutable(),
		field.Int("merchant_id").Immutable(),
		field.Int("variant_id").Immutable(),
		field.Int64("price").NonNegative().Comment("Unit price in minor units during the sale."),
		field.Int("cap").NonNegative(),
		field.Int("sold").NonNegative().Default(0),
	}
}

// Edges of the FlashSaleItem.
func (FlashSaleItem) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("promotion", Promotion.Type).Ref("flash_items").Field("promotion_id").Unique().Required().Immutable(),
	}
}

// Indexes of the FlashSaleItem.
func (FlashSaleItem) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("promotion_id", "variant_id").Unique(),
		index.Fields("variant_id"),
	}
}

// Annotations of the FlashSaleItem.
func (FlashSaleItem) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy of the FlashSaleItem: read with its promotion's visibility; written by
// internal/promotions only.
func (FlashSaleItem) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterFlashSaleItemsToVisible(),
		},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// FlashSaleClaim is how many units of a flash-sale item one customer holds at the flash
// price, over all their orders: the per-user limit is decided by its unique key and a
// conditional UPDATE (quantity + q <= limit).
type FlashSaleClaim struct{ ent.Schema }

// Fields of the FlashSaleClaim.
func (FlashSaleClaim) Fields() []ent.Field {
	return []ent.Field{
		field.Int("item_id").Immutable(),
		field.Int("user_id").Immutable(),
		field.Int("quantity").NonNegative().Default(0),
	}
}

// Indexes of the FlashSaleClaim.
func (FlashSaleClaim) Indexes() []ent.Index {
	return []ent.Index{index.Fields("item_id", "user_id").Unique()}
}

// Annotations of the FlashSaleClaim.
func (FlashSaleClaim) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy of the FlashSaleClaim: internal/promotions only.
func (FlashSaleClaim) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// FlashSaleUse records what one order took of a flash-sale item, so a full cancellation
// gives exactly that back, once (released_at).
type FlashSaleUse struct{ ent.Schema }

// Fields of the FlashSaleUse.
func (FlashSaleUse) Fields() []ent.Field {
	return []ent.Field{
		field.Int("order_id").Immutable(),
		field.Int("item_id").Immutable(),
		field.Int("user_id").Immutable(),
		field.Int("quantity").Positive().Immutable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
		field.Time("released_at").SchemaType(datetime6).Optional().Nillable(),
	}
}

// Indexes of the FlashSaleUse.
func (FlashSaleUse) Indexes() []ent.Index {
	return []ent.Index{index.Fields("order_id", "item_id").Unique()}
}

// Annotations of the FlashSaleUse.
func (FlashSaleUse) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy of the FlashSaleUse: internal/promotions only.
func (FlashSaleUse) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}
