package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// RelayState is the one row of the event relay: how far it has numbered the outbox
// (order events) and how far it has published them. Locking this row makes one relay at a
// time do the numbering, whatever the number of replicas.
type RelayState struct{ ent.Schema }

// Fields of the RelayState.
func (RelayState) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").MaxRuneLen(32).NotEmpty().Unique().Immutable(),
		field.Int64("assigned_position").NonNegative().Default(0).
			Comment("The highest position given to an event."),
		field.Int64("published_position").NonNegative().Default(0).
			Comment("Events up to this position were handed to the bus."),
		field.Time("updated_at").SchemaType(datetime6).Default(nowUTC).UpdateDefault(nowUTC),
	}
}

// Annotations of the RelayState.
func (RelayState) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// ApiClient is a partner's credentials: a client id and a hashed secret, scoped to
// merchants and permissions.
type ApiClient struct{ ent.Schema }

// Mixin of the ApiClient.
func (ApiClient) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the ApiClient.
func (ApiClient) Fields() []ent.Field {
	return []ent.Field{
		field.String("client_id").MaxRuneLen(64).NotEmpty().Unique().Immutable(),
		field.String("name").MaxRuneLen(100).NotEmpty(),
		field.String("secret_hash").MaxRuneLen(255).Sensitive().Annotations(entgql.Skip()),
		field.JSON("merchant_ids", []int{}).Annotations(entgql.Skip()).
			Comment("The merchants the client acts for."),
		field.Strings("scopes").Comment("orders:read, orders:write, tracking:write, webhooks:manage"),
		field.Int("created_by_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.Time("revoked_at").SchemaType(datetime6).Optional().Nillable(),
		field.Time("last_used_at").SchemaType(datetime6).Optional().Nillable(),
		field.Time("secret_rotated_at").SchemaType(datetime6).Optional().Nillable(),
	}
}

// Annotations of the ApiClient.
func (ApiClient) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Webhook is an HTTPS endpoint of a merchant or partner that receives order events.
type Webhook struct{ ent.Schema }

// Mixin of the Webhook.
func (Webhook) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Webhook.
func (Webhook) Fields() []ent.Field {
	return []ent.Field{
		field.Int("merchant_id").Immutable().Annotations(entgql.Skip()),
		field.Int("api_client_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()).
			Comment("The partner that registered it; nil for merchant staff."),
		field.String("url").MaxRuneLen(2048).NotEmpty(),
		field.Strings("event_types").Comment("Order event types delivered; empty means all."),
		field.String("secret").MaxRuneLen(128).Sensitive().Annotations(entgql.Skip()),
		field.String("previous_secret").MaxRuneLen(128).Optional().Sensitive().Annotations(entgql.Skip()),
		field.Time("previous_secret_expires_at").SchemaType(datetime6).Optional().Nillable(),
		field.Enum("status").Values("ACTIVE", "DISABLED").Default("ACTIVE"),
		field.String("disabled_reason").MaxRuneLen(500).Default(""),
		field.Int("consecutive_failures").NonNegative().Default(0),
		field.Time("failing_since").SchemaType(datetime6).Optional().Nillable(),
	}
}

// Edges of the Webhook.
func (Webhook) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("deliveries", WebhookDelivery.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the Webhook.
func (Webhook) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "status")}
}

// Annotations of the Webhook.
func (Webhook) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// WebhookDelivery is one event to one webhook, with its attempts. Deliveries are created
// by the relay in the transaction that numbers the event, so a committed event is never
// skipped and a rolled-back one never sent.
type WebhookDelivery struct{ ent.Schema }

// Mixin of the WebhookDelivery.
func (WebhookDelivery) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the WebhookDelivery.
func (WebhookDelivery) Fields() []ent.Field {
	return []ent.Field{
		field.Int("webhook_id").Immutable().Annotations(entgql.Skip()),
		field.Int("event_id").Immutable().Annotations(entgql.Skip()),
		field.Int64("event_position").Immutable(),
		field.String("event_type").MaxRuneLen(32).Immutable(),
		field.Enum("status").Values("PENDING", "SUCCEEDED", "FAILED", "GAVE_UP").Default("PENDING").
			Comment("FAILED: the last attempt failed and another is scheduled; GAVE_UP: no more attempts."),
		field.Int("attempts").NonNegative().Default(0),
		field.Time("next_attempt_at").SchemaType(datetime6).Optional().Nillable(),
		field.Time("claimed_until").SchemaType(datetime6).Optional().Nillable().Annotations(entgql.Skip()),
		field.Int("last_response_code").Optional().Nillable(),
		field.Int("last_latency_ms").Optional().Nillable(),
		field.String("last_error").MaxRuneLen(500).Default(""),
		field.Time("delivered_at").SchemaType(datetime6).Optional().Nillable(),
	}
}

// Edges of the WebhookDelivery.
func (WebhookDelivery) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("webhook", Webhook.Type).Ref("deliveries").Field("webhook_id").Unique().Required().Immutable(),
		edge.To("attempt_log", WebhookAttempt.Type),
	}
}

// Indexes of the WebhookDelivery.
func (WebhookDelivery) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("webhook_id", "event_id").Unique(),
		index.Fields("status", "next_attempt_at"),
		index.Fields("webhook_id", "created_at"),
	}
}

// Annotations of the WebhookDelivery.
func (WebhookDelivery) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// WebhookAttempt is one HTTP attempt of a delivery.
type WebhookAttempt struct{ ent.Schema }

// Fields of the WebhookAttempt.
func (WebhookAttempt) Fields() []ent.Field {
	return []ent.Field{
		field.Int("delivery_id").Immutable().Annotations(entgql.Skip()),
		field.Int("number").Positive().Immutable(),
		field.Int("response_code").Optional().Nillable().Immutable(),
		field.Int("latency_ms").NonNegative().Immutable(),
		field.String("error").MaxRuneLen(500).Default("").Immutable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
	}
}

// Edges of the WebhookAttempt.
func (WebhookAttempt) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("delivery", WebhookDelivery.Type).Ref("attempt_log").Field("delivery_id").Unique().Required().Immutable(),
	}
}
