package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"

	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/rule"
)

// RatingMixin keeps the rating aggregates of what is reviewed (a product, a merchant):
// count, sum, average, the count of each star and of reviews with photos. They are
// changed only by internal/reviews, with one atomic UPDATE … SET x = x + ? in the
// transaction of the review write, hide or restore, so concurrent reviews all count.
// Hidden reviews are not counted.
type RatingMixin struct{ mixin.Schema }

// Fields of the RatingMixin.
func (RatingMixin) Fields() []ent.Field {
	star := func(name string) ent.Field {
		return field.Int(name).NonNegative().Default(0).Annotations(entgql.Skip())
	}
	return []ent.Field{
		field.Float("rating_average").Min(0).Max(5).Default(0).
			Annotations(entgql.OrderField("RATING"), entgql.Skip(entgql.SkipWhereInput)),
		field.Int("rating_count").NonNegative().Default(0).
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Int("rating_sum").NonNegative().Default(0).Annotations(entgql.Skip()),
		star("rating_1"), star("rating_2"), star("rating_3"), star("rating_4"), star("rating_5"),
		field.Int("rating_with_photos").NonNegative().Default(0).Annotations(entgql.Skip()),
	}
}

// Review is a customer's rating and words about one line of an order they received
// (internal/reviews, docs/REVIEWS.md): once per line, with an optional follow-up (追评)
// and one reply of the merchant.
type Review struct{ ent.Schema }

// Mixin of the Review.
func (Review) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Review.
func (Review) Fields() []ent.Field {
	skip := entgql.Skip()
	noWhere := entgql.Skip(entgql.SkipWhereInput)
	return []ent.Field{
		field.Int("product_id").Immutable().Annotations(skip),
		field.Int("merchant_id").Immutable().Annotations(skip),
		field.Int("author_id").Immutable().Annotations(skip),
		field.Int("order_id").Optional().Nillable().Immutable().Annotations(skip),
		field.Int("order_item_id").Optional().Nillable().Immutable().Annotations(skip),
		field.String("author_name").MaxRuneLen(64).Default("").Annotations(skip).
			Comment("The author's display name when they wrote it; shown masked when anonymous."),
		field.Int("rating").Range(1, 5).Immutable().Annotations(entgql.OrderField("RATING")),
		field.Text("body").Default("").Annotations(noWhere),
		field.JSON("images", []schematype.Image{}).Default([]schematype.Image{}).Annotations(entgql.Type("[ProductImage!]")),
		field.JSON("tags", []string{}).Default([]string{}).Annotations(entgql.Type("[String!]")),
		field.Bool("anonymous").Default(false).Immutable().Annotations(noWhere),
		field.Bool("is_default").Default(false).Immutable().Annotations(noWhere).
			Comment("Written by the system when the window closed without a review (5 stars)."),
		field.Bool("with_photos").Default(false).
			Comment("The review or its follow-up has photos: the with-photos filter."),
		field.Int("helpful_count").NonNegative().Default(0).
			Annotations(entgql.OrderField("HELPFUL"), noWhere),
		field.Int("report_count").NonNegative().Default(0).Annotations(skip),
		field.Bool("hidden").Default(false).Annotations(noWhere),
		field.String("hidden_reason").MaxRuneLen(500).Default("").Annotations(noWhere),
		field.Time("hidden_at").SchemaType(datetime6).Optional().Nillable().Annotations(noWhere),
		field.Text("reply").Optional().Nillable().Annotations(noWhere),
		field.Time("replied_at").SchemaType(datetime6).Optional().Nillable().Annotations(noWhere),
		field.Text("follow_up").Optional().Nillable().Annotations(noWhere),
		field.JSON("follow_up_images", []schematype.Image{}).Default([]schematype.Image{}).
			Annotations(entgql.Type("[ProductImage!]")),
		field.Time("followed_up_at").SchemaType(datetime6).Optional().Nillable().Annotations(noWhere),
	}
}

// Edges of the Review.
func (Review) Edges() []ent.Edge {
	return []ent.Edge{
		// Not a where-input predicate: reviews are public, but the product of one may be
		// delisted.
		edge.From("product", Product.Type).Ref("reviews").Field("product_id").Unique().Required().Immutable().
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		edge.From("author", User.Type).Ref("reviews").Field("author_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
		// Not in the API at all: the order item leads to the order and its buyer, which an
		// anonymous review must not reveal to the merchant.
		edge.From("order_item", OrderItem.Type).Ref("review").Field("order_item_id").Unique().Immutable().
			Annotations(entgql.Skip()),
		edge.To("votes", ReviewVote.Type).Annotations(entgql.Skip()),
		edge.To("reports", ReviewReport.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the Review.
func (Review) Indexes() []ent.Index {
	return []ent.Index{
		// One review per order line, however many requests or job runs race to write it.
		index.Fields("order_item_id").Unique(),
		index.Fields("product_id", "hidden", "created_at"),
		index.Fields("product_id", "hidden", "helpful_count"),
		index.Fields("merchant_id", "created_at"),
		index.Fields("author_id", "created_at"),
		index.Fields("hidden", "report_count"),
	}
}

// Annotations of the Review.
func (Review) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of the Review: public to read, except hidden ones (their author and admins only);
// written by internal/reviews, as the system, after its own checks.
func (Review) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterReviewsToVisible(),
		},
		Mutation: privacy.MutationPolicy{
			rule.AllowIfSystem(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// ReviewVote is one person finding a review helpful: at most one per person and review.
type ReviewVote struct{ ent.Schema }

// Fields of the ReviewVote.
func (ReviewVote) Fields() []ent.Field {
	return []ent.Field{
		field.Int("review_id").Immutable(),
		field.Int("user_id").Immutable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
	}
}

// Edges of the ReviewVote.
func (ReviewVote) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("review", Review.Type).Ref("votes").Field("review_id").Unique().Required().Immutable(),
	}
}

// Indexes of the ReviewVote.
func (ReviewVote) Indexes() []ent.Index {
	return []ent.Index{index.Fields("review_id", "user_id").Unique()}
}

// Annotations of the ReviewVote.
func (ReviewVote) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy of the ReviewVote: internal/reviews only.
func (ReviewVote) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// ReviewReport is one person reporting a review to the admins: at most one per person and
// review.
type ReviewReport struct{ ent.Schema }

// Fields of the ReviewReport.
func (ReviewReport) Fields() []ent.Field {
	return []ent.Field{
		field.Int("review_id").Immutable(),
		field.Int("user_id").Immutable(),
		field.String("reason").MaxRuneLen(500).Immutable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
	}
}

// Edges of the ReviewReport.
func (ReviewReport) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("review", Review.Type).Ref("reports").Field("review_id").Unique().Required().Immutable(),
	}
}

// Indexes of the ReviewReport.
func (ReviewReport) Indexes() []ent.Index {
	return []ent.Index{index.Fields("review_id", "user_id").Unique()}
}

// Annotations of the ReviewReport.
func (ReviewReport) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy of the ReviewReport: internal/reviews only (admins read reports through it).
func (ReviewReport) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}
