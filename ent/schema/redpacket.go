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

// RedPacketCampaign is a platform red-packet rain (红包雨, internal/redpackets): a budget
// split at creation into count packets (RANDOM amounts within [min, max] or FIXED ones),
// claimable between starts_at and ends_at, at most per_user_limit per customer; a claimed
// packet is credit for validity_hours. Anyone may read a campaign; only the red-packet
// service, as the system, writes it. In GraphQL it is declared by hand
// (schema/redpackets.graphqls).
type RedPacketCampaign struct{ ent.Schema }

// Mixin of the RedPacketCampaign.
func (RedPacketCampaign) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the RedPacketCampaign.
func (RedPacketCampaign) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").MaxRuneLen(100).NotEmpty(),
		field.String("currency").MinLen(3).MaxLen(3).Immutable(),
		field.Enum("split").Values("RANDOM", "FIXED").Immutable(),
		field.Int64("budget").Positive().Immutable(),
		field.Int("count").Positive().Immutable(),
		field.Int64("min_amount").Positive().Immutable(),
		field.Int64("max_amount").Positive().Immutable(),
		field.Time("starts_at").SchemaType(datetime6).Immutable(),
		field.Time("ends_at").SchemaType(datetime6).Immutable(),
		field.Int("per_user_limit").Positive().Immutable(),
		field.Int("validity_hours").Positive().Immutable(),
		field.Enum("status").Values("ACTIVE", "CANCELLED").Default("ACTIVE"),
		field.Int("created_by_id").Optional().Nillable().Immutable(),
	}
}

// Edges of the RedPacketCampaign.
func (RedPacketCampaign) Edges() []ent.Edge {
	return []ent.Edge{edge.To("packets", RedPacket.Type)}
}

// Indexes of the RedPacketCampaign.
func (RedPacketCampaign) Indexes() []ent.Index {
	return []ent.Index{index.Fields("status", "ends_at")}
}

// Annotations of the RedPacketCampaign.
func (RedPacketCampaign) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the RedPacketCampaign: public to read; written by the service as the system.
func (RedPacketCampaign) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysAllowRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// RedPacket is one packet of a campaign, split at the campaign's creation. Unclaimed it
// has no user; a claim sets user, claimed_at, expires_at and balance (= amount), and
// checkout spends the balance down (RedPacketSpend records each spend per order).
type RedPacket struct{ ent.Schema }

// Fields of the RedPacket.
func (RedPacket) Fields() []ent.Field {
	return []ent.Field{
		field.Int("campaign_id").Immutable(),
		// 1..count: the packet's place in the campaign's split.
		field.Int("seq").Immutable(),
		field.Int64("amount").Positive().Immutable(),
		field.String("currency").MinLen(3).MaxLen(3).Immutable(),
		field.Int("user_id").Optional().Nillable(),
		field.Time("claimed_at").SchemaType(datetime6).Optional().Nillable(),
		field.Time("expires_at").SchemaType(datetime6).Optional().Nillable(),
		// What is left to spend: 0 until claimed.
		field.Int64("balance").Default(0).NonNegative(),
	}
}

// Edges of the RedPacket.
func (RedPacket) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("campaign", RedPacketCampaign.Type).Ref("packets").Field("campaign_id").Unique().Required().Immutable(),
	}
}

// Indexes of the RedPacket.
func (RedPacket) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("campaign_id", "seq").Unique(),
		// A claim's scan for a free packet: campaign_id = ? AND user_id IS NULL ORDER BY id.
		index.Fields("campaign_id", "user_id"),
		// A wallet: user_id = ? AND expires_at > now ORDER BY expires_at.
		index.Fields("user_id", "expires_at"),
	}
}

// Annotations of the RedPacket.
func (RedPacket) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the RedPacket: its holder and admins see it; the service writes it as the system.
func (RedPacket) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterToOwnUser(),
		},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// RedPacketClaimer counts one customer's claims in one campaign: a claim raises claims
// only while it is below the campaign's per-user limit (a conditional UPDATE), so the
// database holds the limit under concurrent claims.
type RedPacketClaimer struct{ ent.Schema }

// Fields of the RedPacketClaimer.
func (RedPacketClaimer) Fields() []ent.Field {
	return []ent.Field{
		field.Int("campaign_id").Immutable(),
		field.Int("user_id").Immutable(),
		field.Int("claims").NonNegative(),
	}
}

// Indexes of the RedPacketClaimer.
func (RedPacketClaimer) Indexes() []ent.Index {
	return []ent.Index{index.Fields("campaign_id", "user_id").Unique()}
}

// Annotations of the RedPacketClaimer.
func (RedPacketClaimer) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the RedPacketClaimer: the service's own bookkeeping.
func (RedPacketClaimer) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// RedPacketSpend is what one order took from one red packet at checkout; a full
// cancellation sets released_at once and gives the amount back to the packet.
type RedPacketSpend struct{ ent.Schema }

// Fields of the RedPacketSpend.
func (RedPacketSpend) Fields() []ent.Field {
	return []ent.Field{
		field.Int("red_packet_id").Immutable(),
		field.Int("order_id").Immutable(),
		field.Int("user_id").Immutable(),
		field.Int64("amount").Positive().Immutable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
		field.Time("released_at").SchemaType(datetime6).Optional().Nillable(),
	}
}

// Indexes of the RedPacketSpend.
func (RedPacketSpend) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("order_id", "red_packet_id").Unique(),
		index.Fields("red_packet_id"),
	}
}

// Annotations of the RedPacketSpend.
func (RedPacketSpend) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the RedPacketSpend: its customer and admins see it; the service writes it.
func (RedPacketSpend) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterToOwnUser(),
		},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}
