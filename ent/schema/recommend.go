package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/rule"
)

// Recommendations (issue #13 §2): the counts internal/recommend keeps from paid orders, by
// a job that reads the orders paid since its watermark. docs/RECOMMENDATIONS.md explains
// the methods. Only the system reads and writes these tables: the queries answer with
// products, loaded under the viewer's own privacy rules.

// recommendPolicy lets the system alone read and write a recommendation table.
func recommendPolicy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// ProductPair counts the paid orders holding both product_id and other_id. Each pair is
// kept in both directions, so a product's neighbours are one index range; the row with
// other_id = product_id counts the paid orders holding the product at all (for cosine).
type ProductPair struct{ ent.Schema }

// Fields of the ProductPair.
func (ProductPair) Fields() []ent.Field {
	return []ent.Field{
		field.Int("product_id").Immutable(),
		field.Int("other_id").Immutable(),
		field.Int("orders").NonNegative().Default(0),
	}
}

// Edges of the ProductPair: the neighbour, so a query can keep the visible ones in SQL.
func (ProductPair) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("other", Product.Type).Field("other_id").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the ProductPair.
func (ProductPair) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("product_id", "other_id").Unique(),
		index.Fields("product_id", "orders"),
	}
}

// Annotations of the ProductPair.
func (ProductPair) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the ProductPair.
func (ProductPair) Policy() ent.Policy { return recommendPolicy() }

// ProductDailySales counts the units of a product in the orders paid on one UTC day
// (day = days since 1970-01-01), for "trending".
type ProductDailySales struct{ ent.Schema }

// Fields of the ProductDailySales.
func (ProductDailySales) Fields() []ent.Field {
	return []ent.Field{
		field.Int("product_id").Immutable(),
		field.Int("day").Immutable(),
		field.Int("units").NonNegative().Default(0),
	}
}

// Edges of the ProductDailySales.
func (ProductDailySales) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("product", Product.Type).Field("product_id").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the ProductDailySales.
func (ProductDailySales) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("product_id", "day").Unique(),
		index.Fields("day", "product_id"),
	}
}

// Annotations of the ProductDailySales.
func (ProductDailySales) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the ProductDailySales.
func (ProductDailySales) Policy() ent.Policy { return recommendPolicy() }

// RecommendWatermark is how far the recommendation job has read the paid orders: every
// order paid before (paid_at, order_id), in that order, is counted. One row per name; a
// batch moves it by a conditional UPDATE in the transaction that adds the batch's counts.
type RecommendWatermark struct{ ent.Schema }

// Fields of the RecommendWatermark.
func (RecommendWatermark) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").MaxRuneLen(32).NotEmpty().Unique().Immutable(),
		field.Time("paid_at").SchemaType(datetime6),
		field.Int("order_id").Default(0),
		field.Int("orders").NonNegative().Default(0).Comment("Paid orders counted so far."),
		field.Time("updated_at").SchemaType(datetime6).Default(nowUTC),
	}
}

// Annotations of the RecommendWatermark.
func (RecommendWatermark) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the RecommendWatermark.
func (RecommendWatermark) Policy() ent.Policy { return recommendPolicy() }
