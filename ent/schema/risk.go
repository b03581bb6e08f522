package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/xiadan/xiadan/ent/schema/schematype"
)

// RiskAssessment is the fraud screening of one order (internal/risk): the signals kept
// when it was placed, the rules that fired when it was paid, and the review decision of an
// order held for it. Admins only.
type RiskAssessment struct{ ent.Schema }

// Mixin of the RiskAssessment.
func (RiskAssessment) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the RiskAssessment.
func (RiskAssessment) Fields() []ent.Field {
	return []ent.Field{
		field.Int("order_id").Unique().Immutable().Annotations(entgql.Skip()),
		field.Int("customer_id").Immutable().Annotations(entgql.Skip()),
		field.Int("merchant_id").Immutable().Annotations(entgql.Skip()),
		field.String("device_id").MaxRuneLen(128).Default("").Immutable().
			Comment("The X-Device-Id header of the request that placed the order; empty when none."),
		field.String("ip").MaxRuneLen(64).Default("").Immutable().
			Comment("The client address that placed the order."),
		field.String("phone").MaxRuneLen(32).Default("").
			Comment("The order's contact phone, digits only."),
		field.String("address_key").MaxRuneLen(64).Default("").Annotations(entgql.Skip()).
			Comment("A hash of the normalised shipping address, so equal addresses match; empty when none."),
		field.String("email").MaxRuneLen(254).Default("").
			Comment("The customer's email, lower case."),
		field.Bool("coupon_used").Default(false).
			Comment("The order used a shop or platform coupon."),
		field.Int64("total").NonNegative().Default(0).Annotations(entgql.Skip()),
		field.String("currency").MinLen(3).MaxRuneLen(3).Default("CNY"),
		field.Int("score").NonNegative().Default(0).Annotations(entgql.OrderField("SCORE")),
		field.JSON("rules", []schematype.RiskRuleHit{}).Default([]schematype.RiskRuleHit{}).
			Annotations(entgql.Type("[RiskRuleHit!]")),
		field.Enum("status").
			Values("PENDING", "PASSED", "TRUSTED", "HELD", "APPROVED", "REJECTED", "WITHDRAWN").
			Default("PENDING").
			Comment("PENDING until paid; then PASSED, TRUSTED (allow-listed, not scored) or HELD for review, which ends APPROVED, REJECTED or WITHDRAWN (the order was cancelled meanwhile)."),
		field.Time("screened_at").SchemaType(datetime6).Optional().Nillable(),
		field.Int("decided_by").Optional().Nillable().Annotations(entgql.Skip()),
		field.Time("decided_at").SchemaType(datetime6).Optional().Nillable(),
		field.String("decision_note").MaxRuneLen(500).Default(""),
	}
}

// Edges of the RiskAssessment.
func (RiskAssessment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("order", Order.Type).Field("order_id").Unique().Required().Immutable(),
		edge.To("customer", User.Type).Field("customer_id").Unique().Required().Immutable(),
		edge.To("merchant", Merchant.Type).Field("merchant_id").Unique().Required().Immutable(),
		edge.To("decider", User.Type).Field("decided_by").Unique(),
	}
}

// Indexes of the RiskAssessment.
func (RiskAssessment) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status", "created_at"),
		index.Fields("customer_id", "created_at"),
		index.Fields("device_id", "created_at"),
		index.Fields("address_key", "created_at"),
		index.Fields("phone", "created_at"),
		index.Fields("merchant_id", "created_at"),
	}
}

// Annotations of the RiskAssessment.
func (RiskAssessment) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// RiskListEntry is one entry of the risk lists: a blocked phone, address, device or email,
// or a trusted user or merchant whose orders skip scoring.
type RiskListEntry struct{ ent.Schema }

// Mixin of the RiskListEntry.
func (RiskListEntry) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the RiskListEntry.
func (RiskListEntry) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").
			Values("BLOCKED_PHONE", "BLOCKED_ADDRESS", "BLOCKED_DEVICE", "BLOCKED_EMAIL", "TRUSTED_USER", "TRUSTED_MERCHANT").
			Immutable(),
		field.String("value").MaxRuneLen(255).NotEmpty().Immutable().
			Comment("Normalised: phone digits, lower-case email, the device id, the address hash, or the user's or merchant's id."),
		field.String("label").MaxRuneLen(500).Default("").Immutable().
			Comment("What the admin entered, for display (the address as written)."),
		field.String("note").MaxRuneLen(500).Default(""),
		field.Int("created_by").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
	}
}

// Indexes of the RiskListEntry.
func (RiskListEntry) Indexes() []ent.Index {
	return []ent.Index{index.Fields("kind", "value").Unique()}
}

// Annotations of the RiskListEntry.
func (RiskListEntry) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
