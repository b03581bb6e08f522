package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/xiadan/xiadan/internal/catalog/hooks"
)

// Merchant is a shop on the platform, run by its owner and staff.
type Merchant struct{ ent.Schema }

// Mixin of the Merchant.
func (Merchant) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}, RatingMixin{}} }

// Fields of the Merchant.
func (Merchant) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").
			MaxRuneLen(100).
			NotEmpty().
			Annotations(entgql.OrderField("NAME")),
		field.String("slug").
			MaxRuneLen(64).
			NotEmpty().
			Unique().
			Match(slugPattern),
		field.Text("description").
			Default(""),
		field.String("logo_url").
			MaxRuneLen(512).
			Optional(),
		field.String("contact_name").
			Annotations(entgql.Skip(entgql.SkipType, entgql.SkipWhereInput)).
			MaxRuneLen(64).
			NotEmpty(),
		field.String("contact_phone").
			Annotations(entgql.Skip(entgql.SkipType, entgql.SkipWhereInput)).
			MaxRuneLen(32).
			NotEmpty(),
		field.String("contact_email").
			Annotations(entgql.Skip(entgql.SkipType, entgql.SkipWhereInput)).
			MaxRuneLen(254).
			NotEmpty(),
		field.String("licence_number").
			MaxRuneLen(64).
			NotEmpty().
			Comment("Business licence number (统一社会信用代码)."),
		field.String("legal_name").
			MaxRuneLen(200).
			NotEmpty(),
		field.Enum("status").
			Values("PENDING_REVIEW", "ACTIVE", "REJECTED", "RESTRICTED", "SUSPENDED").
			Default("PENDING_REVIEW"),
		// Members and admins only: declared in schema/merchant.graphqls, in no where input.
		field.String("status_reason").
			MaxRuneLen(500).
			Optional().
			Annotations(entgql.Skip()),
		field.Bool("show_exact_stock").
			Default(false).
			Annotations(entgql.Skip()).
			Comment("Shoppers see the exact stock of the merchant's variants, not only their availability."),
		field.Int("owner_id").
			Annotations(entgql.Skip()),
		field.Int64("shipping_flat_fee").
			NonNegative().
			Default(0).
			Annotations(entgql.Skip()).
			Comment("Flat shipping fee per order, in minor units of the merchant currency."),
		field.Int64("free_shipping_threshold").
			NonNegative().
			Default(0).
			Annotations(entgql.Skip()).
			Comment("Orders whose subtotal reaches this amount ship free; 0 means never."),
		field.String("currency").
			MaxRuneLen(3).
			MinLen(3).
			Default("CNY"),
		// Shipping promise (承诺发货时间): paid orders ship within this many hours. The
		// credit score measures the merchant against it (internal/credit).
		field.Int("promised_ship_hours").
			Range(1, 720).
			Default(48).
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		// The effects of the merchant's sanctions (internal/credit), kept on the row the
		// catalogue and privacy rules already read. A sanction ends by time: these are
		// compared with the clock, so nothing needs to clear them when they pass.
		field.Time("restricted_until").SchemaType(datetime6).Optional().Nillable().
			Annotations(entgql.Skip()).
			Comment("No new listings and left out of product search until then."),
		field.Time("suspended_until").SchemaType(datetime6).Optional().Nillable().
			Annotations(entgql.Skip()).
			Comment("Hidden from the public and taking no orders until then."),
		field.Time("removed_at").SchemaType(datetime6).Optional().Nillable().
			Annotations(entgql.Skip()).
			Comment("Removed from the platform (清退) until an admin lifts the removal."),
	}
}

// Edges of the Merchant.
func (Merchant) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("owner", User.Type).
			Field("owner_id").
			Unique().
			Required().
			Annotations(entgql.Skip()),
		edge.To("members", User.Type).
			Annotations(entgql.Skip()),
		// Not a where-input predicate: a merchant's products include drafts and delisted
		// ones, and a filter must not see what the viewer may not (docs/SEARCH.md). The
		// Merchant.products connection is declared in schema/merchant.graphqls instead, with
		// its own where argument (privacy applies to the rows it filters), and resolved by
		// internal/loader, which reads only the pages (field collection would window over
		// every product of every merchant).
		edge.To("products", Product.Type).
			Annotations(entgql.Skip(entgql.SkipType, entgql.SkipWhereInput), entgql.Unbind()),
		edge.To("orders", Order.Type).
			Annotations(entgql.Skip()),
		edge.To("invitations", MerchantInvitation.Type).
			Annotations(entgql.Skip()),
	}
}

// Indexes of the Merchant.
func (Merchant) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status", "created_at"),
		index.Fields("owner_id"),
		// The storefront leaves out the products of the merchants under a suspension or
		// restriction at the request's time: these find the few.
		index.Fields("suspended_until"),
		index.Fields("restricted_until"),
	}
}

// Hooks of the Merchant.
func (Merchant) Hooks() []ent.Hook {
	return []ent.Hook{hooks.MerchantOnSaleHook()}
}

// Annotations of the Merchant.
func (Merchant) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
	}
}
