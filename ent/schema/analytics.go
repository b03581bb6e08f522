package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/rule"
)

// Analytics (issue #13 §1): behaviour events from front ends and the daily rollups the
// dashboards read (internal/analytics). docs/ANALYTICS.md explains them.

// Channels are where a visit, an event or an order came from: the web storefront, each
// mini program, or a creator's link.
var Channels = []string{"WEB", "APP", "WECHAT_MINI", "ALIPAY_MINI", "QQ_MINI", "BAIDU_MINI",
	"DOUYIN_MINI", "KUAISHOU_MINI", "CREATOR_LINK"}

// AnalyticsEvent is one behaviour event a front end sent with trackEvents: append-only,
// deleted after ANALYTICS_EVENT_RETENTION. The dashboards read the rollups, never these.
type AnalyticsEvent struct{ ent.Schema }

// Fields of the AnalyticsEvent.
func (AnalyticsEvent) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("VIEW_PRODUCT", "ADD_TO_CART", "BEGIN_CHECKOUT", "SEARCH").Immutable(),
		field.Enum("channel").Values(Channels...).Immutable(),
		field.String("visitor_id").MaxRuneLen(64).NotEmpty().Immutable(),
		field.Int("user_id").Optional().Nillable().Immutable(),
		field.Int("merchant_id").Optional().Nillable().Immutable(),
		field.Int("product_id").Optional().Nillable().Immutable(),
		field.String("query").MaxRuneLen(200).Optional().Nillable().Immutable(),
		field.Int("results").Optional().Nillable().Immutable(),
		// When the front end says it happened, clamped to the server's window.
		field.Time("occurred_at").SchemaType(datetime6).Immutable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
	}
}

// Indexes of the AnalyticsEvent.
func (AnalyticsEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("created_at"), // retention
		index.Fields("visitor_id", "occurred_at"),
		index.Fields("user_id", "occurred_at"), // a signed-in viewer's recent products (internal/recommend)
	}
}

// Annotations of the AnalyticsEvent.
func (AnalyticsEvent) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy of the AnalyticsEvent: only internal/analytics, as the system, reads and writes.
func (AnalyticsEvent) Policy() ent.Policy { return systemOnlyPolicy() }

// AnalyticsTrafficDay counts a merchant's behaviour events of one day (in the analytics
// time zone), product and channel; incremented in the transaction storing the events.
// merchant_id 0 holds events naming no product (searches).
type AnalyticsTrafficDay struct{ ent.Schema }

// Fields of the AnalyticsTrafficDay.
func (AnalyticsTrafficDay) Fields() []ent.Field {
	return []ent.Field{
		field.Int("merchant_id").Immutable(),
		field.Int("day").Immutable().Comment("yyyymmdd in the analytics time zone"),
		field.Int("product_id").Immutable().Comment("0: events naming no product"),
		field.Enum("channel").Values(Channels...).Immutable(),
		field.Int64("views").Default(0),
		field.Int64("carts").Default(0),
		field.Int64("checkouts").Default(0),
		field.Int64("searches").Default(0),
	}
}

// Indexes of the AnalyticsTrafficDay.
func (AnalyticsTrafficDay) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "day", "product_id", "channel").Unique(), index.Fields("day")}
}

// Annotations of the AnalyticsTrafficDay.
func (AnalyticsTrafficDay) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy of the AnalyticsTrafficDay.
func (AnalyticsTrafficDay) Policy() ent.Policy { return systemOnlyPolicy() }

// AnalyticsSalesDay is a merchant's orders placed on one day (analytics time zone) through
// one channel, as they stand now: recomputed from the orders by the rollup job whenever
// one of them changes.
type AnalyticsSalesDay struct{ ent.Schema }

// Fields of the AnalyticsSalesDay.
func (AnalyticsSalesDay) Fields() []ent.Field {
	return []ent.Field{
		field.Int("merchant_id").Immutable(),
		field.Int("day").Immutable().Comment("yyyymmdd in the analytics time zone"),
		field.Enum("channel").Values(Channels...).Immutable(),
		field.String("currency").MaxRuneLen(3),
		field.Int64("orders").Default(0),
		field.Int64("paid_orders").Default(0),
		field.Int64("paid_amount").Default(0).Comment("minor units: totals of the orders paid"),
		field.Int64("refunded_amount").Default(0),
		field.Int64("refunded_orders").Default(0),
		field.Int64("cancelled_orders").Default(0),
		field.Int64("units").Default(0).Comment("units of the orders paid"),
		field.Int64("payment_failures").Default(0),
	}
}

// Indexes of the AnalyticsSalesDay.
func (AnalyticsSalesDay) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "day", "channel").Unique(), index.Fields("day")}
}

// Annotations of the AnalyticsSalesDay.
func (AnalyticsSalesDay) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy of the AnalyticsSalesDay.
func (AnalyticsSalesDay) Policy() ent.Policy { return systemOnlyPolicy() }

// AnalyticsProductDay is a product's paid sales among a merchant's orders placed on one day.
type AnalyticsProductDay struct{ ent.Schema }

// Fields of the AnalyticsProductDay.
func (AnalyticsProductDay) Fields() []ent.Field {
	return []ent.Field{
		field.Int("merchant_id").Immutable(),
		field.Int("day").Immutable(),
		field.Int("product_id").Immutable(),
		field.Int("category_id").Default(0),
		field.Int64("orders").Default(0),
		field.Int64("units").Default(0),
		field.Int64("paid_amount").Default(0).Comment("minor units: line totals less line discounts"),
	}
}

// Indexes of the AnalyticsProductDay.
func (AnalyticsProductDay) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "day", "product_id").Unique(), index.Fields("day", "category_id")}
}

// Annotations of the AnalyticsProductDay.
func (AnalyticsProductDay) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy of the AnalyticsProductDay.
func (AnalyticsProductDay) Policy() ent.Policy { return systemOnlyPolicy() }

// AnalyticsState is the rollup job's single row: the position in the order-event log up
// to which the sales rollups are complete. Replicas claim it with SELECT … FOR UPDATE.
type AnalyticsState struct{ ent.Schema }

// Fields of the AnalyticsState.
func (AnalyticsState) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("position").Default(0),
		field.Time("updated_at").SchemaType(datetime6).Default(nowUTC).UpdateDefault(nowUTC),
	}
}

// Annotations of the AnalyticsState.
func (AnalyticsState) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy of the AnalyticsState.
func (AnalyticsState) Policy() ent.Policy { return systemOnlyPolicy() }

func systemOnlyPolicy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}
