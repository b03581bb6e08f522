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

// AfterSalesRequest is a customer's request (售后) about a paid order, or some of its lines:
// a refund only, a return and refund, or an exchange. It moves through the states of
// internal/aftersales (docs/AFTER_SALES.md); due_at is the deadline of the step it waits
// for, after which a job takes the step's default.
type AfterSalesRequest struct{ ent.Schema }

// Mixin of the AfterSalesRequest.
func (AfterSalesRequest) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the AfterSalesRequest.
func (AfterSalesRequest) Fields() []ent.Field {
	return []ent.Field{
		field.String("number").MaxRuneLen(32).NotEmpty().Unique().Immutable().
			Comment("Human-readable request number, random."),
		field.Int("order_id").Immutable().Annotations(entgql.Skip()),
		field.Int("merchant_id").Immutable().Annotations(entgql.Skip()),
		field.Int("customer_id").Immutable().Annotations(entgql.Skip()),
		field.Enum("type").Values("REFUND_ONLY", "RETURN_REFUND", "EXCHANGE").Immutable().
			Annotations(entgql.Type("AfterSalesType")),
		field.Enum("status").
			Values("REQUESTED", "PROPOSED", "REJECTED", "ESCALATED", "AWAITING_RETURN", "RETURN_SHIPPED",
				"AWAITING_REPLACEMENT", "REFUNDED", "EXCHANGED", "CLOSED").
			Default("REQUESTED").
			Annotations(entgql.Type("AfterSalesStatus")),
		field.Enum("reason").
			Values("NOT_RECEIVED", "NO_LONGER_WANTED", "DAMAGED", "NOT_AS_DESCRIBED", "WRONG_ITEM", "QUALITY_ISSUE", "OTHER").
			Immutable().Annotations(entgql.Type("AfterSalesReason")),
		field.String("description").MaxRuneLen(1000).Default("").Immutable(),
		field.JSON("order_item_ids", []int{}).Default([]int{}).Immutable().Annotations(entgql.Skip()).
			Comment("The lines the request is about; empty for the whole order."),
		field.String("currency").MinLen(3).MaxRuneLen(3).Immutable(),
		field.Int64("amount").NonNegative().Annotations(entgql.Skip()).
			Comment("What the customer asks for (0 for an exchange)."),
		field.Int64("proposed_amount").Optional().Nillable().Annotations(entgql.Skip()).
			Comment("A partial amount the merchant proposed, awaiting the customer."),
		field.Int64("refunded_amount").NonNegative().Default(0).Annotations(entgql.Skip()),
		field.Time("due_at").SchemaType(datetime6).Optional().Nillable().
			Comment("Deadline of the step the request waits for; null in final states and in arbitration."),
		field.String("merchant_reason").MaxRuneLen(500).Default(""),
		field.String("resolution").MaxRuneLen(500).Default("").
			Comment("How the request ended, or the admin's decision."),
		field.String("return_carrier").MaxRuneLen(64).Default(""),
		field.String("return_tracking_number").MaxRuneLen(64).Default(""),
		field.String("replacement_carrier").MaxRuneLen(64).Default(""),
		field.String("replacement_tracking_number").MaxRuneLen(64).Default(""),
		field.Time("escalated_at").SchemaType(datetime6).Optional().Nillable(),
		field.Time("resolved_at").SchemaType(datetime6).Optional().Nillable(),
	}
}

// Edges of the AfterSalesRequest.
func (AfterSalesRequest) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("order", Order.Type).Field("order_id").Unique().Required().Immutable().
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		edge.To("events", AfterSalesEvent.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the AfterSalesRequest.
func (AfterSalesRequest) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("order_id", "status"),
		index.Fields("customer_id", "created_at"),
		index.Fields("merchant_id", "status", "due_at"),
		index.Fields("status", "due_at"),
	}
}

// Annotations of the AfterSalesRequest.
func (AfterSalesRequest) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of the AfterSalesRequest: its customer, its merchant's staff and admins see it;
// only the after-sales service, as the system, writes it.
func (AfterSalesRequest) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterAfterSalesToVisible(),
		},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// AfterSalesEvent is one step or message on an after-sales request's timeline: who did
// what, with words and evidence. Written once, never changed.
type AfterSalesEvent struct{ ent.Schema }

// Fields of the AfterSalesEvent.
func (AfterSalesEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Int("request_id").Immutable().Annotations(entgql.Skip()),
		field.Enum("type").
			Values("REQUESTED", "APPROVED", "PROPOSED", "PROPOSAL_ACCEPTED", "REJECTED", "ESCALATED",
				"RETURN_SHIPPED", "RETURN_RECEIVED", "REPLACEMENT_SHIPPED", "REFUNDED", "EXCHANGED",
				"ARBITRATED", "MESSAGE", "WITHDRAWN", "CLOSED").
			Immutable().Annotations(entgql.Type("AfterSalesEventType")),
		field.Enum("actor_role").Values("CUSTOMER", "MERCHANT", "ADMIN", "PARTNER", "SYSTEM").Immutable(),
		field.Int("actor_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.String("message").MaxRuneLen(1000).Default("").Immutable(),
		field.Int64("amount").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.JSON("evidence_upload_ids", []int{}).Default([]int{}).Immutable().Annotations(entgql.Skip()),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
	}
}

// Edges of the AfterSalesEvent.
func (AfterSalesEvent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("request", AfterSalesRequest.Type).Ref("events").Field("request_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
	}
}

// Indexes of the AfterSalesEvent.
func (AfterSalesEvent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("request_id", "id")}
}

// Annotations of the AfterSalesEvent.
func (AfterSalesEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// Policy of the AfterSalesEvent: visible with its request; appended by the service only.
func (AfterSalesEvent) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterAfterSalesEventsToVisible(),
		},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessCreate(), rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// afterSalesStatuses are the after-sales views of an order and of its lines: NONE (never
// asked), IN_PROGRESS (a request is open), REFUNDED and PARTIALLY_REFUNDED (the requests
// returned all or some of the money), EXCHANGED (replaced), CLOSED (asked, nothing given).
var afterSalesStatuses = []string{"NONE", "IN_PROGRESS", "REFUNDED", "PARTIALLY_REFUNDED", "EXCHANGED", "CLOSED"}
