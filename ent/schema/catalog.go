package schema

import (
	"regexp"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/slug"
)

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// Category is a node in the platform-wide category tree.
type Category struct{ ent.Schema }

// Mixin of the Category.
func (Category) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Category.
func (Category) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").MaxRuneLen(64).NotEmpty().Annotations(entgql.OrderField("NAME")),
		field.String("name_en").MaxRuneLen(64).Default("").Comment("English name shown to en locales."),
		field.String("slug").MaxRuneLen(64).NotEmpty().Unique().Match(slugPattern),
		field.Int("position").Default(0).Annotations(entgql.OrderField("POSITION")),
		field.Int("parent_id").Optional().Nillable().Annotations(entgql.Skip()),
	}
}

// Edges of the Category.
func (Category) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("children", Category.Type).
			From("parent").
			Field("parent_id").
			Unique(),
		// Not a where-input predicate: a category's products include hidden ones. The
		// Category.products connection is declared in schema/catalog.graphqls with its own
		// where argument and loaded page by page by internal/loader (as Merchant.products).
		edge.To("products", Product.Type).
			Annotations(entgql.Skip(entgql.SkipType, entgql.SkipWhereInput), entgql.Unbind()),
	}
}

// Annotations of the Category.
func (Category) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Product is something a merchant sells; what is bought is one of its variants.
type Product struct{ ent.Schema }

// Mixin of the Product.
func (Product) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}, RatingMixin{}} }

// Fields of the Product.
func (Product) Fields() []ent.Field {
	return []ent.Field{
		field.Int("merchant_id").Immutable().Annotations(entgql.Skip()),
		field.Int("category_id").Optional().Nillable().Annotations(entgql.Skip()),
		field.String("title").MaxRuneLen(200).NotEmpty().Annotations(entgql.OrderField("TITLE")),
		// Unique across the platform, like merchant and category slugs, so a storefront
		// URL names a product on its own; made from the title when not given
		// (ProductSlugHook).
		field.String("slug").MaxLen(slug.MaxLen).NotEmpty().Unique().Match(slugPattern).
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Text("description").Default(""),
		field.Enum("kind").Values("PHYSICAL", "VIRTUAL", "SERVICE").Default("PHYSICAL"),
		field.Enum("status").Values("DRAFT", "ACTIVE", "DELISTED").Default("DRAFT"),
		field.JSON("images", []schematype.Image{}).
			Default([]schematype.Image{}).
			Annotations(entgql.Type("[ProductImage!]")),
		field.JSON("attributes", []schematype.Attribute{}).
			Default([]schematype.Attribute{}).
			Annotations(entgql.Type("[ProductAttribute!]")),
		field.Int("sales_count").NonNegative().Default(0).Annotations(entgql.OrderField("SALES_COUNT")),
		field.Time("published_at").SchemaType(datetime6).Optional().Nillable(),
		// Aggregates of the variants, kept by ProductVariantAggregateHook in the same
		// transaction as every variant change, so listing, filtering and sorting by price
		// or stock never needs a join or a per-product query.
		field.Int64("min_price").NonNegative().Default(0).
			Annotations(entgql.OrderField("PRICE"), entgql.Skip(entgql.SkipType, entgql.SkipWhereInput)),
		field.Int64("max_price").NonNegative().Default(0).
			Annotations(entgql.Skip()),
		field.String("currency").MinLen(3).MaxRuneLen(3).Default("CNY").
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Int("total_stock").NonNegative().Default(0).
			Annotations(entgql.Skip()), // shown as ProductVariant.stock is
		field.Int("variant_count").NonNegative().Default(0).
			Annotations(entgql.Skip()),
		// Denormalised visibility, kept by ProductOnSaleHook and MerchantOnSaleHook in the
		// same transaction as every change of the product's status or of its merchant's
		// status or removal: the product is ACTIVE, its merchant ACTIVE and not removed.
		// Sanctions that end by time (suspension, restriction) are checked when reading,
		// against the few merchants under one (docs/STOREFRONT-SPEED.md). The storefront's
		// list and the privacy rule read it instead of joining the merchant of every row;
		// in no GraphQL type or filter.
		field.Bool("on_sale").Default(false).
			Annotations(entgql.Skip()),
	}
}

// Edges of the Product.
func (Product) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("merchant", Merchant.Type).Ref("products").Field("merchant_id").Unique().Required().Immutable(),
		edge.From("category", Category.Type).Ref("products").Field("category_id").Unique(),
		edge.To("variants", ProductVariant.Type),
		edge.To("reviews", Review.Type).Annotations(entgql.RelayConnection(), entgql.Unbind()),
		edge.To("search_tokens", SearchToken.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the Product.
func (Product) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "status", "created_at"),
		index.Fields("status", "created_at"),
		index.Fields("category_id", "status"),
		// The storefront's orders over what is on sale: keyset pages walk these and stop
		// (InnoDB appends the id, which breaks ties in every order).
		index.Fields("on_sale", "created_at"),
		index.Fields("on_sale", "sales_count"),
		index.Fields("on_sale", "min_price"),
		index.Fields("on_sale", "rating_average"),
		// A category page: its categories' on-sale products in id order.
		index.Fields("category_id", "on_sale"),
		// A merchant's page for shoppers: its on-sale products in id order (without it MySQL
		// sorted all of a 17k-product merchant's rows for each page of 3: 3.5 s a statement
		// at 100k products).
		index.Fields("merchant_id", "on_sale"),
		index.Fields("merchant_id", "status", "min_price"),
		// A merchant's page of products in the default order (id) stops after the page.
		index.Fields("merchant_id", "status", "id"),
	}
}

// Annotations of the Product.
func (Product) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Hooks of the Product.
func (Product) Hooks() []ent.Hook {
	return []ent.Hook{
		hooks.ProductSlugHook(),
		hooks.ProductSearchIndexHook(),
		hooks.ProductOnSaleHook(),
	}
}

// ProductVariant is one buyable version of a product, with its own SKU, price and stock.
type ProductVariant struct{ ent.Schema }

// Mixin of the ProductVariant.
func (ProductVariant) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the ProductVariant.
func (ProductVariant) Fields() []ent.Field {
	return []ent.Field{
		field.Int("product_id").Immutable().Annotations(entgql.Skip()),
		// Denormalised from the product so SKU codes can be unique per merchant.
		field.Int("merchant_id").Immutable().Annotations(entgql.Skip()),
		field.String("sku").MaxRuneLen(64).NotEmpty(),
		field.JSON("options", []schematype.OptionValue{}).
			Default([]schematype.OptionValue{}).
			Annotations(entgql.Type("[VariantOption!]")),
		field.Int64("price").Positive().Annotations(entgql.Skip()).Comment("Unit price in minor units (fen)."),
		field.String("currency").MinLen(3).MaxRuneLen(3).Default("CNY"),
		// Merchant-internal: declared in schema/catalog.graphqls, shown by who asks
		// (internal/catalog.StockVisible), and in no where input, so filters cannot reveal them.
		field.Int("stock").NonNegative().Default(0).Annotations(entgql.Skip()),
		field.Int("low_stock_threshold").NonNegative().Default(0).Annotations(entgql.Skip()),
		field.Int("position").Default(0),
	}
}

// Edges of the ProductVariant.
func (ProductVariant) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("product", Product.Type).Ref("variants").Field("product_id").Unique().Required().Immutable(),
		edge.To("stock_movements", StockMovement.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the ProductVariant.
func (ProductVariant) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "sku").Unique(),
		index.Fields("product_id", "position"),
		index.Fields("merchant_id", "stock"),
	}
}

// Annotations of the ProductVariant.
func (ProductVariant) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Hooks of the ProductVariant.
func (ProductVariant) Hooks() []ent.Hook {
	return []ent.Hook{
		hooks.ProductVariantCurrencyHook(),
		hooks.ProductVariantAggregateHook(),
	}
}

// SearchToken is one entry of the keyword index: a token (a Latin word or a CJK bigram)
// that occurs in a product's title, attributes or description, with a weight that favours
// titles. ProductSearchIndexHook keeps it in step with the product.
type SearchToken struct{ ent.Schema }

// Fields of the SearchToken.
func (SearchToken) Fields() []ent.Field {
	return []ent.Field{
		field.Int("product_id").Immutable(),
		field.String("token").MaxRuneLen(32).NotEmpty().Immutable(),
		field.Int("weight").Positive().Immutable(),
	}
}

// Edges of the SearchToken.
func (SearchToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("product", Product.Type).Ref("search_tokens").Field("product_id").Unique().Required().Immutable(),
	}
}

// Indexes of the SearchToken.
func (SearchToken) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("token", "product_id").Unique(),
		index.Fields("product_id"),
	}
}

// Annotations of the SearchToken.
func (SearchToken) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// StockMovement is one line of the stock ledger: who changed a variant's stock, when, why,
// and the stock before and after.
type StockMovement struct{ ent.Schema }

// Fields of the StockMovement.
func (StockMovement) Fields() []ent.Field {
	return []ent.Field{
		field.Int("variant_id").Immutable().Annotations(entgql.Skip()),
		field.Int("merchant_id").Immutable().Annotations(entgql.Skip()),
		field.Int("actor_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.Enum("kind").
			Values("INITIAL", "ADJUSTMENT", "BULK_UPDATE", "ORDER_RESERVED", "ORDER_RELEASED").
			Immutable(),
		field.Int("delta").Immutable(),
		field.Int("stock_before").Immutable(),
		field.Int("stock_after").Immutable(),
		field.String("reason").MaxRuneLen(500).Default("").Immutable(),
		field.Int("order_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC).
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Edges of the StockMovement.
func (StockMovement) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("variant", ProductVariant.Type).Ref("stock_movements").Field("variant_id").Unique().Required().Immutable(),
		edge.To("actor", User.Type).Field("actor_id").Unique().Immutable().Annotations(entgql.Skip()),
	}
}

// Indexes of the StockMovement.
func (StockMovement) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("variant_id", "created_at"),
		index.Fields("merchant_id", "created_at"),
	}
}

// Annotations of the StockMovement.
func (StockMovement) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
