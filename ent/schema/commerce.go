package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// CartLine is one variant in a signed-in customer's persistent cart.
type CartLine struct{ ent.Schema }

// Mixin of the CartLine.
func (CartLine) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the CartLine.
func (CartLine) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Immutable().Annotations(entgql.Skip()),
		field.Int("variant_id").Immutable().Annotations(entgql.Skip()),
		field.Int("quantity").Positive(),
	}
}

// Edges of the CartLine.
func (CartLine) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable().Annotations(entgql.Skip()),
		edge.To("variant", ProductVariant.Type).Field("variant_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()), // exposed by the cart resolver, which also shows delisted variants
	}
}

// Indexes of the CartLine.
func (CartLine) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "variant_id").Unique()}
}

// Address is a saved shipping address of a customer.
type Address struct{ ent.Schema }

// Mixin of the Address.
func (Address) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Address.
func (Address) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Immutable().Annotations(entgql.Skip()),
		field.String("recipient_name").MaxRuneLen(64).NotEmpty(),
		field.String("phone").MaxRuneLen(32).NotEmpty(),
		field.String("country").MaxRuneLen(2).Default("CN"),
		field.String("province").MaxRuneLen(64).NotEmpty(),
		field.String("city").MaxRuneLen(64).NotEmpty(),
		field.String("district").MaxRuneLen(64).Default(""),
		field.String("street").MaxRuneLen(200).NotEmpty(),
		field.String("postal_code").MaxRuneLen(16).Default(""),
		field.Bool("is_default").Default(false),
	}
}

// Edges of the Address.
func (Address) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable().Annotations(entgql.Skip()),
	}
}

// Indexes of the Address.
func (Address) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "is_default")}
}

// Checkout groups the per-merchant orders placed together, and makes placeOrder safe to
// retry: the same idempotency key returns the same checkout.
type Checkout struct{ ent.Schema }

// Fields of the Checkout.
func (Checkout) Fields() []ent.Field {
	return []ent.Field{
		field.String("token").MaxRuneLen(40).NotEmpty().Unique().Immutable().
			Comment("Public id of the checkout, kept on its orders as checkout_id."),
		field.Int("customer_id").Immutable().Annotations(entgql.Skip()),
		field.String("idempotency_key").MaxRuneLen(128).NotEmpty().Immutable().Annotations(entgql.Skip()),
		field.String("request_hash").MaxRuneLen(64).NotEmpty().Immutable().Annotations(entgql.Skip()),
		field.String("currency").MinLen(3).MaxRuneLen(3).Default("CNY").Immutable(),
		field.Int64("total").NonNegative().Immutable().Annotations(entgql.Skip()),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
	}
}

// Indexes of the Checkout.
func (Checkout) Indexes() []ent.Index {
	return []ent.Index{index.Fields("customer_id", "idempotency_key").Unique()}
}

// Annotations of the Checkout.
func (Checkout) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// OrderEvent records one change of an order — a status transition, a tracking update, a
// refund — with who did it and why. It is the order's timeline and, written in the same
// transaction as the change, the outbox from which real-time events are published.
type OrderEvent struct{ ent.Schema }

// Fields of the OrderEvent.
func (OrderEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Int("order_id").Immutable().Annotations(entgql.Skip()),
		field.Int("merchant_id").Immutable().Annotations(entgql.Skip()),
		field.Int("customer_id").Immutable().Annotations(entgql.Skip()),
		field.Enum("type").
			Values("CREATED", "PAID", "ACCEPTED", "SHIPPED", "TRACKING_UPDATED", "DELIVERED", "FULFILLED",
				"COMPLETED", "CANCELLED", "REFUNDED", "PAYMENT_FAILED", "LINES_FULFILLED",
				"REVIEW_CREATED", "REVIEW_REPLIED",
				"AFTER_SALES_REQUESTED", "AFTER_SALES_APPROVED", "AFTER_SALES_PROPOSED", "AFTER_SALES_REJECTED",
				"AFTER_SALES_ESCALATED", "AFTER_SALES_RETURN_SHIPPED", "AFTER_SALES_RETURN_RECEIVED",
				"AFTER_SALES_REPLACEMENT_SHIPPED", "AFTER_SALES_MESSAGE", "AFTER_SALES_RESOLVED",
				"RISK_HELD", "RISK_APPROVED", "RISK_REJECTED").
			Comment("LINES_FULFILLED: some lines were delivered (virtual content, a rendered service) and the order's status did not change. REVIEW_*: a line was reviewed, a review replied to (review_id). AFTER_SALES_*: a step of an after-sales request. RISK_*: the order was held for a risk review (PAID → RISK_REVIEW), released (→ PAID) or rejected (→ CANCELLED, refunded).").
			Immutable(),
		// Empty for events that change no status (TRACKING_UPDATED, REFUNDED, …); the API
		// shows them as OrderStatus values or null (schema/events.graphqls).
		field.String("from_status").MaxRuneLen(32).Default("").Immutable().Annotations(entgql.Skip()),
		field.String("to_status").MaxRuneLen(32).Default("").Immutable().Annotations(entgql.Skip()),
		field.Int("actor_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.Enum("actor_role").Values("CUSTOMER", "MERCHANT", "ADMIN", "PARTNER", "SYSTEM").Immutable(),
		field.String("reason").MaxRuneLen(500).Default("").Immutable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
		field.Int64("position").Optional().Nillable().Unique().Annotations(entgql.Skip()).
			Comment("Order of publication, given by the relay after commit: the resume cursor."),
		field.Int64("sequence").Optional().Nillable().
			Comment("Per-merchant number, increasing, given by the relay with the position."),
		field.Int("review_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()).
			Comment("The review of REVIEW_CREATED and REVIEW_REPLIED events."),
	}
}

// Edges of the OrderEvent.
func (OrderEvent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("order", Order.Type).Ref("events").Field("order_id").Unique().Required().Immutable().Annotations(entgql.Skip()),
	}
}

// Indexes of the OrderEvent.
func (OrderEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("order_id", "id"),
		index.Fields("merchant_id", "id"),
		index.Fields("customer_id", "id"),
		index.Fields("merchant_id", "sequence"),
		index.Fields("customer_id", "position"),
		index.Fields("order_id", "position"),
	}
}

// Shipment is a parcel of a physical order handed to a carrier.
type Shipment struct{ ent.Schema }

// Mixin of the Shipment.
func (Shipment) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Shipment.
func (Shipment) Fields() []ent.Field {
	return []ent.Field{
		field.Int("order_id").Immutable().Annotations(entgql.Skip()),
		field.Int("merchant_id").Immutable().Annotations(entgql.Skip()),
		field.String("carrier").MaxRuneLen(64).NotEmpty(),
		field.String("tracking_number").MaxRuneLen(64).NotEmpty(),
		field.Enum("status").Values("SHIPPED", "PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED", "EXCEPTION").
			Default("SHIPPED"),
	}
}

// Edges of the Shipment.
func (Shipment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("order", Order.Type).Ref("shipments").Field("order_id").Unique().Required().Immutable(),
		edge.To("tracking_events", TrackingEvent.Type),
	}
}

// Indexes of the Shipment.
func (Shipment) Indexes() []ent.Index {
	return []ent.Index{index.Fields("carrier", "tracking_number")}
}

// TrackingEvent is one carrier scan of a shipment. Duplicates (same status and time) are
// ignored by a unique index.
type TrackingEvent struct{ ent.Schema }

// Fields of the TrackingEvent.
func (TrackingEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Int("shipment_id").Immutable().Annotations(entgql.Skip()),
		field.Enum("status").Values("PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED", "EXCEPTION").Immutable(),
		field.String("location").MaxRuneLen(200).Default("").Immutable(),
		field.String("description").MaxRuneLen(500).Default("").Immutable(),
		field.Time("occurred_at").SchemaType(datetime6).Immutable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
	}
}

// Edges of the TrackingEvent.
func (TrackingEvent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("shipment", Shipment.Type).Ref("tracking_events").Field("shipment_id").Unique().Required().Immutable(),
	}
}

// Indexes of the TrackingEvent.
func (TrackingEvent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("shipment_id", "status", "occurred_at").Unique()}
}

// PaymentNotification logs every asynchronous notification a provider sent, verified or
// not, so duplicates are recognised and forgeries can be investigated.
type PaymentNotification struct{ ent.Schema }

// Fields of the PaymentNotification.
func (PaymentNotification) Fields() []ent.Field {
	return []ent.Field{
		field.String("provider").MaxRuneLen(32).Immutable(),
		field.String("payment_ref").MaxRuneLen(64).Default("").Immutable(),
		field.String("provider_ref").MaxRuneLen(128).Default("").Immutable(),
		field.String("outcome").MaxRuneLen(16).Default("").Immutable(),
		field.Int64("amount").Default(0).Immutable(),
		field.Bool("verified").Immutable(),
		field.String("error").MaxRuneLen(500).Default("").Immutable(),
		field.String("body_hash").MaxRuneLen(64).Immutable(),
		field.Time("received_at").SchemaType(datetime6).Immutable().Default(nowUTC),
	}
}

// Indexes of the PaymentNotification.
func (PaymentNotification) Indexes() []ent.Index {
	return []ent.Index{index.Fields("payment_ref", "received_at")}
}

// Annotations of the PaymentNotification.
func (PaymentNotification) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Refund returns money of a payment, fully or in part, through its provider.
type Refund struct{ ent.Schema }

// Mixin of the Refund.
func (Refund) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Refund.
func (Refund) Fields() []ent.Field {
	return []ent.Field{
		field.Int("payment_id").Immutable().Annotations(entgql.Skip()),
		field.Int("order_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.String("refund_ref").MaxRuneLen(64).NotEmpty().Unique().Immutable(),
		field.Int64("amount").Positive().Immutable().Annotations(entgql.Skip()),
		field.String("currency").MinLen(3).MaxRuneLen(3).Immutable(),
		field.Enum("status").Values("PENDING", "SUCCEEDED", "FAILED").Default("PENDING"),
		field.String("reason").MaxRuneLen(500).Default(""),
		field.String("provider_ref").MaxRuneLen(128).Default(""),
		field.Int("after_sales_request_id").Optional().Nillable().Unique().Immutable().Annotations(entgql.Skip()).
			Comment("The after-sales request this refund executes: at most one refund per request."),
	}
}

// Edges of the Refund.
func (Refund) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("payment", Payment.Type).Ref("refunds").Field("payment_id").Unique().Required().Immutable(),
	}
}
