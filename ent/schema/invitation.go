package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// MerchantInvitation invites a person, by email, to join a merchant's staff.
type MerchantInvitation struct{ ent.Schema }

// Mixin of the MerchantInvitation.
func (MerchantInvitation) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the MerchantInvitation.
func (MerchantInvitation) Fields() []ent.Field {
	return []ent.Field{
		field.String("email").MaxRuneLen(254).NotEmpty(),
		field.Enum("status").Values("PENDING", "ACCEPTED", "REVOKED").Default("PENDING"),
		field.Int("merchant_id").Annotations(entgql.Skip()),
		field.Int("invited_by_id").Annotations(entgql.Skip()),
		field.Time("expires_at").SchemaType(datetime6),
	}
}

// Edges of the MerchantInvitation.
func (MerchantInvitation) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("merchant", Merchant.Type).Ref("invitations").Field("merchant_id").Unique().Required(),
		edge.To("invited_by", User.Type).Field("invited_by_id").Unique().Required().Annotations(entgql.Skip()),
	}
}

// Indexes of the MerchantInvitation.
func (MerchantInvitation) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("email", "status"),
		index.Fields("merchant_id", "status"),
	}
}

// Annotations of the MerchantInvitation.
func (MerchantInvitation) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
