package rule

import (
	"context"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/helparticle"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/ticket"
	"github.com/xiadan/xiadan/ent/ticketmessage"
	"github.com/xiadan/xiadan/internal/viewer"
)

// ticketParticipant is the tickets the viewer takes part in: its own, and those routed to
// the merchant it is staff of. Partner clients see none: tickets are people's business.
func ticketParticipant(v *viewer.Viewer) []predicate.Ticket {
	ps := []predicate.Ticket{ticket.CustomerID(v.UserID)}
	if v.Has(viewer.RoleMerchant) && v.IsMerchantMember(v.MerchantID) {
		ps = append(ps, ticket.MerchantID(v.MerchantID))
	}
	return ps
}

// FilterTicketsToParticipants shows a ticket to its customer and to the staff of the
// merchant it is routed to (admins are allowed before this rule).
func FilterTicketsToParticipants() privacy.TicketQueryRuleFunc {
	return func(ctx context.Context, q *ent.TicketQuery) error {
		v := viewer.FromContext(ctx)
		if v.UserID == 0 {
			return privacy.Denyf("anonymous viewer")
		}
		q.Where(ticket.Or(ticketParticipant(v)...))
		return privacy.Allow
	}
}

// FilterTicketMessagesToParticipants shows messages with their ticket.
func FilterTicketMessagesToParticipants() privacy.TicketMessageQueryRuleFunc {
	return func(ctx context.Context, q *ent.TicketMessageQuery) error {
		v := viewer.FromContext(ctx)
		if v.UserID == 0 {
			return privacy.Denyf("anonymous viewer")
		}
		q.Where(func(s *sql.Selector) {
			t := sql.Table(ticket.Table)
			sub := sql.Select(t.C(ticket.FieldID)).From(t)
			sub.Where(sql.Or(participantPredicates(t, v)...))
			s.Where(sql.In(s.C(ticketmessage.FieldTicketID), sub))
		})
		return privacy.Allow
	}
}

func participantPredicates(t *sql.SelectTable, v *viewer.Viewer) []*sql.Predicate {
	ps := []*sql.Predicate{sql.EQ(t.C(ticket.FieldCustomerID), v.UserID)}
	if v.Has(viewer.RoleMerchant) && v.IsMerchantMember(v.MerchantID) {
		ps = append(ps, sql.EQ(t.C(ticket.FieldMerchantID), v.MerchantID))
	}
	return ps
}

// FilterHelpArticlesToPublished shows everyone but admins the PUBLISHED articles only.
func FilterHelpArticlesToPublished() privacy.HelpArticleQueryRuleFunc {
	return func(_ context.Context, q *ent.HelpArticleQuery) error {
		q.Where(helparticle.StatusEQ(helparticle.StatusPUBLISHED))
		return privacy.Allow
	}
}
