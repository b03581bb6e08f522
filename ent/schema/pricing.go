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

// OrderAdjustment is one promotion's effect on one order, as internal/pricing quoted it at
// checkout: the breakdown shown on the order and the per-line allocation refunds use.
type OrderAdjustment struct{ ent.Schema }

// Fields of the OrderAdjustment.
func (OrderAdjustment) Fields() []ent.Field {
	return []ent.Field{
		field.Int("order_id").Immutable(),
		field.Int("stage").Immutable().Comment("pricing.Stage"),
		field.String("kind").MaxRuneLen(32).NotEmpty().Immutable().Comment("pricing.Kind"),
		field.Int("source_id").Default(0).Immutable().Comment("The row that made it (coupon, promotion, red packet); 0 when none."),
		field.String("label").MaxRuneLen(200).Default("").Immutable(),
		field.Int64("amount").NonNegative().Default(0).Immutable().Comment("Goods discount on this order."),
		field.Int64("shipping_amount").NonNegative().Default(0).Immutable().Comment("Shipping discount on this order."),
		field.Enum("funded_by").Values("MERCHANT", "PLATFORM").Immutable(),
		field.String("currency").MinLen(3).MaxRuneLen(3).Default("CNY").Immutable(),
		field.JSON("lines", map[int]int64{}).Optional().Immutable().Comment("Order item id → goods discount allocated to it."),
	}
}

// Edges of the OrderAdjustment.
func (OrderAdjustment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("order", Order.Type).Field("order_id").Unique().Required().Immutable(),
	}
}

// Indexes of the OrderAdjustment.
func (OrderAdjustment) Indexes() []ent.Index {
	return []ent.Index{index.Fields("order_id")}
}

// Annotations of the OrderAdjustment: read through the order (internal/orders), never as a node.
func (OrderAdjustment) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the OrderAdjustment: read and written by the order services as the system,
// after they have read the order as the caller.
func (OrderAdjustment) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}
