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

// Order is what one customer bought from one merchant in one checkout.
type Order struct{ ent.Schema }

// Mixin of the Order.
func (Order) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Order.
func (Order) Fields() []ent.Field {
	return []ent.Field{
		field.String("number").MaxRuneLen(32).NotEmpty().Unique().Immutable().
			Comment("Human-readable order number; random, so it reveals no sales volume."),
		field.String("checkout_id").MaxRuneLen(40).NotEmpty().Immutable().
			Comment("Groups the per-merchant orders of one checkout."),
		field.Int("customer_id").Immutable().Annotations(entgql.Skip()),
		field.Int("merchant_id").Immutable().Annotations(entgql.Skip()),
		field.Enum("status").
			Values("PENDING_PAYMENT", "PAID", "RISK_REVIEW", "ACCEPTED", "SHIPPED", "DELIVERED", "FULFILLED", "COMPLETED", "CANCELLED").
			Default("PENDING_PAYMENT").
			Comment("RISK_REVIEW: paid, and held for a platform risk review before the merchant may accept it (internal/risk)."),
		field.String("currency").MinLen(3).MaxRuneLen(3).Default("CNY"),
		field.Int64("subtotal").NonNegative().Annotations(entgql.Skip()),
		field.Int64("shipping_fee").NonNegative().Default(0).Annotations(entgql.Skip()),
		field.Int64("discount").NonNegative().Default(0).Annotations(entgql.Skip()).
			Comment("Goods discount of the promotions (internal/pricing); shipping discounts are apart."),
		field.Int64("shipping_discount").NonNegative().Default(0).Annotations(entgql.Skip()).
			Comment("total = subtotal - discount + shipping_fee - shipping_discount."),
		field.Int64("total").NonNegative().Annotations(entgql.Skip()),
		field.JSON("shipping_address", &schematype.Address{}).Optional().Annotations(entgql.Type("PostalAddress")),
		field.String("contact_name").MaxRuneLen(64).Default(""),
		field.String("contact_phone").MaxRuneLen(32).Default(""),
		field.String("note").MaxRuneLen(500).Default(""),
		field.Time("paid_at").SchemaType(datetime6).Optional().Nillable(),
		field.Time("cancelled_at").SchemaType(datetime6).Optional().Nillable(),
		field.String("cancel_reason").MaxRuneLen(500).Optional(),
		field.Time("completed_at").SchemaType(datetime6).Optional().Nillable(),
		field.Enum("fulfilment").Values("PHYSICAL", "VIRTUAL", "SERVICE").Default("PHYSICAL").Immutable().
			Comment("PHYSICAL when any item ships; VIRTUAL or SERVICE otherwise. Decides the state machine."),
		field.Time("payment_deadline").SchemaType(datetime6).Optional().Nillable().
			Comment("Unpaid orders are cancelled automatically after this."),
		field.Time("accepted_at").SchemaType(datetime6).Optional().Nillable(),
		field.Time("shipped_at").SchemaType(datetime6).Optional().Nillable(),
		field.Time("delivered_at").SchemaType(datetime6).Optional().Nillable(),
		field.Time("fulfilled_at").SchemaType(datetime6).Optional().Nillable(),
		field.JSON("virtual_content", &schematype.VirtualContent{}).Optional().
			Annotations(entgql.Skip()).
			Comment("Codes, links and a message delivered for virtual goods; buyer and merchant only."),
		field.Int64("refunded_amount").NonNegative().Default(0).Annotations(entgql.Skip()),
		field.Enum("after_sales_status").Values(afterSalesStatuses...).Default("NONE").
			Comment("The after-sales view of the order (internal/aftersales.Sync)."),
		// Where the order was placed (X-Xiadan-Channel at checkout; internal/analytics).
		field.Enum("channel").Values(Channels...).Default("WEB").Immutable().Annotations(entgql.Skip()),
	}
}

// Edges of the Order.
func (Order) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("customer", User.Type).Ref("orders").Field("customer_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
		edge.From("merchant", Merchant.Type).Ref("orders").Field("merchant_id").Unique().Required().Immutable(),
		edge.To("items", OrderItem.Type),
		edge.From("payments", Payment.Type).Ref("orders"),
		edge.To("events", OrderEvent.Type).Annotations(entgql.Skip()),
		edge.To("shipments", Shipment.Type),
	}
}

// Indexes of the Order.
func (Order) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("customer_id", "created_at"),
		// customer_id last: the privacy filter (customer_id = ? OR merchant_id IN (?)) is
		// then answered from the index, without reading the rows of a big merchant.
		index.Fields("merchant_id", "status", "created_at", "customer_id"),
		index.Fields("merchant_id", "created_at", "customer_id"),
		index.Fields("status", "created_at"),
		// The recommendation job reads the orders paid since its watermark (internal/recommend).
		index.Fields("paid_at"),
		index.Fields("checkout_id"),
		index.Fields("status", "payment_deadline"),
		index.Fields("status", "delivered_at"),
		index.Fields("status", "fulfilled_at"),
	}
}

// Annotations of the Order.
func (Order) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// OrderItem is one line of an order, with the title, SKU and price as they were when bought.
type OrderItem struct{ ent.Schema }

// Fields of the OrderItem.
func (OrderItem) Fields() []ent.Field {
	return []ent.Field{
		field.Int("order_id").Immutable().Annotations(entgql.Skip()),
		field.Int("product_id").Optional().Nillable().Annotations(entgql.Skip()),
		field.Int("variant_id").Optional().Nillable().Annotations(entgql.Skip()),
		field.String("title").MaxRuneLen(200).NotEmpty(),
		field.String("sku").MaxRuneLen(64).NotEmpty(),
		field.JSON("options", []schematype.OptionValue{}).Default([]schematype.OptionValue{}).Annotations(entgql.Type("[VariantOption!]")),
		field.Enum("kind").Values("PHYSICAL", "VIRTUAL", "SERVICE").Default("PHYSICAL"),
		field.Int64("unit_price").Positive().Annotations(entgql.Skip()),
		field.String("currency").MinRuneLen(3).MaxRuneLen(3).Default("CNY").Immutable().Annotations(entgql.Skip()).
			Comment("The order's currency, kept on the item so prices need no order lookup."),
		field.Int("quantity").Positive(),
		field.Int64("line_total").Positive().Annotations(entgql.Skip()),
		field.Int64("discount").NonNegative().Default(0).Annotations(entgql.Skip()).
			Comment("The order's goods discount allocated to the line; the line is worth line_total - discount."),
		field.Time("fulfilled_at").SchemaType(datetime6).Optional().Nillable().
			Comment("When a VIRTUAL line's content was delivered or a SERVICE line rendered; physical lines travel in shipments."),
		field.Enum("after_sales_status").Values(afterSalesStatuses...).Default("NONE").
			Comment("The after-sales view of the line (internal/aftersales.Sync)."),
	}
}

// Edges of the OrderItem.
func (OrderItem) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("order", Order.Type).Ref("items").Field("order_id").Unique().Required().Immutable(),
		edge.To("product", Product.Type).Field("product_id").Unique(),
		edge.To("variant", ProductVariant.Type).Field("variant_id").Unique(),
		edge.To("review", Review.Type).Unique().Annotations(entgql.Skip()),
	}
}

// Payment is money collected through one provider for one or more orders of a checkout.
type Payment struct{ ent.Schema }

// Mixin of the Payment.
func (Payment) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Payment.
func (Payment) Fields() []ent.Field {
	return []ent.Field{
		field.Int("customer_id").Immutable().Annotations(entgql.Skip()),
		field.Enum("method").Values("WECHAT_PAY", "ALIPAY", "QQ_WALLET", "BANK_CARD"),
		field.String("provider").MaxRuneLen(32).NotEmpty().Comment("SANDBOX, ALIPAY, WECHAT, QQ …"),
		field.Int64("amount").Positive().Annotations(entgql.Skip()),
		field.Int64("refunded_amount").NonNegative().Default(0).Annotations(entgql.Skip()),
		field.String("currency").MinLen(3).MaxRuneLen(3).Default("CNY"),
		field.Enum("status").
			Values("PENDING", "SUCCEEDED", "FAILED", "PARTIALLY_REFUNDED", "REFUNDED", "CLOSED").
			Default("PENDING"),
		field.String("provider_ref").MaxRuneLen(128).Optional(),
		field.String("idempotency_key").MaxRuneLen(128).Optional().Annotations(entgql.Skip()),
		field.Time("succeeded_at").SchemaType(datetime6).Optional().Nillable(),
		field.String("payment_ref").MaxRuneLen(64).NotEmpty().Unique().Immutable().
			Comment("Our reference sent to the provider (out_trade_no)."),
		field.String("request_hash").MaxRuneLen(64).Default("").Immutable().Annotations(entgql.Skip()),
		field.JSON("instructions", map[string]any{}).Optional().Annotations(entgql.Type("Map")).
			Comment("What the client needs to pay: QR-code URL, mini-program parameters or a redirect."),
		field.String("failure_reason").MaxRuneLen(500).Default(""),
		field.Time("expires_at").SchemaType(datetime6).Optional().Nillable(),
	}
}

// Edges of the Payment.
func (Payment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("orders", Order.Type),
		edge.To("refunds", Refund.Type),
	}
}

// Indexes of the Payment.
func (Payment) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("customer_id", "idempotency_key").Unique(),
		index.Fields("provider", "provider_ref"),
	}
}
