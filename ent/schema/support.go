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

// Customer service (issue #10 §4): tickets between a customer and a merchant or the
// platform (internal/support), and the help centre's articles (internal/helpcentre).
// docs/SUPPORT.md explains the rules.

// Ticket is a customer's question or complaint about one of their orders, a merchant or
// the platform. It is routed to the merchant concerned (ORDER, MERCHANT) or to the
// platform's admins (PLATFORM); admins may answer any ticket. Its first staff answer is due
// by response_due_at (SUPPORT_FIRST_RESPONSE_SLA after opening); a ticket still unanswered
// then is escalated to admins by a job.
type Ticket struct{ ent.Schema }

// Mixin of the Ticket.
func (Ticket) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Ticket.
func (Ticket) Fields() []ent.Field {
	return []ent.Field{
		field.Int("customer_id").Immutable().Annotations(entgql.Skip()),
		field.Enum("subject_kind").Values("ORDER", "MERCHANT", "PLATFORM").Immutable().
			Annotations(entgql.Type("TicketSubjectKind")),
		field.Int("order_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		// The merchant whose staff answer it; none for PLATFORM tickets.
		field.Int("merchant_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.String("subject").MaxRuneLen(200).NotEmpty(),
		// OPEN: waiting for staff; ANSWERED: staff answered, waiting for the customer;
		// CLOSED: done (the customer may reopen it for SUPPORT_REOPEN_WINDOW unless rated).
		field.Enum("status").Values("OPEN", "ANSWERED", "CLOSED").Default("OPEN").
			Annotations(entgql.Type("TicketStatus"), entgql.OrderField("STATUS")),
		field.Time("response_due_at").SchemaType(datetime6).Immutable(),
		field.Time("first_response_at").SchemaType(datetime6).Optional().Nillable(),
		field.Int("first_response_message_id").Optional().Nillable().Annotations(entgql.Skip()),
		// Escalated to admins because the first answer was not given in time.
		field.Bool("escalated").Default(false),
		field.Time("escalated_at").SchemaType(datetime6).Optional().Nillable(),
		field.Time("last_message_at").SchemaType(datetime6).Annotations(entgql.OrderField("LAST_MESSAGE_AT")),
		field.Time("closed_at").SchemaType(datetime6).Optional().Nillable(),
		field.Int("rating").Optional().Nillable().Range(1, 5),
		field.String("rating_comment").MaxRuneLen(1000).Optional().Nillable(),
		field.Time("rated_at").SchemaType(datetime6).Optional().Nillable(),
	}
}

// Edges of the Ticket.
func (Ticket) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("messages", TicketMessage.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the Ticket.
func (Ticket) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("customer_id", "created_at"),
		index.Fields("merchant_id", "status", "created_at"),
		index.Fields("merchant_id", "created_at"),
		index.Fields("status", "created_at"),
		// The escalation job's scan.
		index.Fields("escalated", "first_response_at", "response_due_at"),
		index.Fields("created_at"),
	}
}

// Annotations of the Ticket.
func (Ticket) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.Skip(entgql.SkipWhereInput)}
}

// Policy of the Ticket: its customer, the staff of the merchant it is routed to and admins
// see it; everyone else finds nothing. Writes go through internal/support, as the system,
// after its own checks.
func (Ticket) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterTicketsToParticipants(),
		},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// TicketMessage is one message of a ticket, from its customer, the merchant's staff, an
// admin, or the system (an escalation). Attachments are uploads of purpose
// TICKET_ATTACHMENT bound to it (internal/upload, entity TICKET_MESSAGE).
type TicketMessage struct{ ent.Schema }

// Fields of the TicketMessage.
func (TicketMessage) Fields() []ent.Field {
	return []ent.Field{
		field.Int("ticket_id").Immutable().Annotations(entgql.Skip()),
		field.Int("author_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.Enum("author_role").Values("CUSTOMER", "MERCHANT", "ADMIN", "SYSTEM").Immutable().
			Annotations(entgql.Type("TicketAuthorRole")),
		field.String("body").MaxRuneLen(5000).NotEmpty().Immutable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
	}
}

// Edges of the TicketMessage.
func (TicketMessage) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("ticket", Ticket.Type).Ref("messages").Field("ticket_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
	}
}

// Indexes of the TicketMessage.
func (TicketMessage) Indexes() []ent.Index {
	return []ent.Index{index.Fields("ticket_id", "id")}
}

// Annotations of the TicketMessage.
func (TicketMessage) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput)}
}

// Policy of the TicketMessage: visible with its ticket.
func (TicketMessage) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterTicketMessagesToParticipants(),
		},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// HelpCategory groups help-centre articles; categories are listed by position.
type HelpCategory struct{ ent.Schema }

// Fields of the HelpCategory.
func (HelpCategory) Fields() []ent.Field {
	return []ent.Field{
		field.String("slug").MaxRuneLen(64).NotEmpty().Unique(),
		field.String("name_zh").MaxRuneLen(64).NotEmpty(),
		field.String("name_en").MaxRuneLen(64).NotEmpty(),
		field.Int("position").Default(0),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
	}
}

// Edges of the HelpCategory.
func (HelpCategory) Edges() []ent.Edge {
	return []ent.Edge{edge.To("articles", HelpArticle.Type).Annotations(entgql.Skip())}
}

// Annotations of the HelpCategory.
func (HelpCategory) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput)}
}

// Policy of the HelpCategory: everyone reads; admins write (through internal/helpcentre).
func (HelpCategory) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysAllowRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
	}
}

// HelpArticle is one help-centre page in one language. The public reads PUBLISHED ones;
// admins write them. helpful_count and not_helpful_count follow the votes.
type HelpArticle struct{ ent.Schema }

// Fields of the HelpArticle.
func (HelpArticle) Fields() []ent.Field {
	return []ent.Field{
		field.Int("category_id").Annotations(entgql.Skip()),
		field.String("slug").MaxRuneLen(96).NotEmpty(),
		field.Enum("locale").Values("zh_CN", "en").Annotations(entgql.Type("HelpLocale")),
		field.String("title").MaxRuneLen(200).NotEmpty(),
		// Markdown; its length (50000 characters) is checked by internal/helpcentre: a
		// length validator would make it a VARCHAR on MySQL.
		field.Text("body").Comment("Markdown."),
		field.Enum("status").Values("DRAFT", "PUBLISHED").Default("DRAFT").Annotations(entgql.Type("HelpArticleStatus")),
		field.Int("position").Default(0),
		field.Int("helpful_count").NonNegative().Default(0),
		field.Int("not_helpful_count").NonNegative().Default(0),
		field.Time("published_at").SchemaType(datetime6).Optional().Nillable(),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
		// Set by the editing service only, so that votes do not move it.
		field.Time("updated_at").SchemaType(datetime6).Default(nowUTC),
	}
}

// Edges of the HelpArticle.
func (HelpArticle) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("category", HelpCategory.Type).Ref("articles").Field("category_id").Unique().Required(),
		edge.To("search_tokens", HelpSearchToken.Type).Annotations(entgql.Skip()),
		edge.To("votes", HelpArticleVote.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the HelpArticle.
func (HelpArticle) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("slug", "locale").Unique(),
		index.Fields("category_id", "status", "position"),
	}
}

// Annotations of the HelpArticle.
func (HelpArticle) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput)}
}

// Policy of the HelpArticle: the public reads PUBLISHED articles; admins read and write all.
func (HelpArticle) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.AllowIfSystem(),
			rule.AllowIfAdmin(),
			rule.FilterHelpArticlesToPublished(),
		},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), rule.AllowIfAdmin(), privacy.AlwaysDenyRule()},
	}
}

// HelpArticleVote is one reader's "was this helpful" answer on one article: a signed-in
// user ("u:<id>") or an anonymous visitor ("v:<visitor id>"). It can be changed.
type HelpArticleVote struct{ ent.Schema }

// Fields of the HelpArticleVote.
func (HelpArticleVote) Fields() []ent.Field {
	return []ent.Field{
		field.Int("article_id").Immutable(),
		field.String("voter").MaxRuneLen(80).NotEmpty().Immutable(),
		field.Bool("helpful"),
		field.Time("created_at").SchemaType(datetime6).Immutable().Default(nowUTC),
		field.Time("updated_at").SchemaType(datetime6).Default(nowUTC).UpdateDefault(nowUTC),
	}
}

// Edges of the HelpArticleVote.
func (HelpArticleVote) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("article", HelpArticle.Type).Ref("votes").Field("article_id").Unique().Required().Immutable(),
	}
}

// Indexes of the HelpArticleVote.
func (HelpArticleVote) Indexes() []ent.Index {
	return []ent.Index{index.Fields("article_id", "voter").Unique()}
}

// Annotations of the HelpArticleVote.
func (HelpArticleVote) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy of the HelpArticleVote: written and read by internal/helpcentre only.
func (HelpArticleVote) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}

// HelpSearchToken is one entry of the help centre's keyword index, as SearchToken is for
// products (internal/search: Latin words and CJK bigrams), kept by internal/helpcentre.
type HelpSearchToken struct{ ent.Schema }

// Fields of the HelpSearchToken.
func (HelpSearchToken) Fields() []ent.Field {
	return []ent.Field{
		field.Int("article_id").Immutable(),
		field.String("token").MaxRuneLen(32).NotEmpty().Immutable(),
		field.Int("weight").Positive().Immutable(),
	}
}

// Edges of the HelpSearchToken.
func (HelpSearchToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("article", HelpArticle.Type).Ref("search_tokens").Field("article_id").Unique().Required().Immutable(),
	}
}

// Indexes of the HelpSearchToken.
func (HelpSearchToken) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("token", "article_id").Unique(),
		index.Fields("article_id"),
	}
}

// Annotations of the HelpSearchToken.
func (HelpSearchToken) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// Policy of the HelpSearchToken: an internal index, written by internal/helpcentre.
func (HelpSearchToken) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysAllowRule()},
		Mutation: privacy.MutationPolicy{rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}
