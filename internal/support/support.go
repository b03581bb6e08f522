// Package support runs customer-service tickets (issue #10 §4): customers open them about
// an order, a merchant or the platform; the merchant's staff and admins answer; a job
// escalates tickets whose first answer is overdue; customers rate closed ones; a report
// gives SLA compliance and satisfaction per period. docs/SUPPORT.md states the rules.
//
// Every state change is a write conditional on the state it changes from, whose
// rows-affected count decides: of two staff answering at once both messages are kept but
// only one becomes the first response; a message racing a close either lands before it
// or is refused; the escalation job never escalates a ticket whose first answer is
// committed.
package support

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/ticket"
	"github.com/xiadan/xiadan/ent/ticketmessage"
	entupload "github.com/xiadan/xiadan/ent/upload"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/mail"
	"github.com/xiadan/xiadan/internal/upload"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Limits of tickets and messages.
const (
	MaxSubjectRunes    = 200
	MaxBodyRunes       = 5000
	MaxAttachments     = 9
	MaxMessages        = 200
	MaxOpenPerCustomer = 20
	MaxCommentRunes    = 1000
)

// Service runs tickets.
type Service struct {
	// SLA is how long staff have for a first answer (SUPPORT_FIRST_RESPONSE_SLA).
	SLA time.Duration
	// ReopenWindow is how long after closing a customer may reopen (SUPPORT_REOPEN_WINDOW).
	ReopenWindow time.Duration
	// Uploads binds attachments.
	Uploads *upload.Service
	// Mailer, when set, tells customers their ticket was answered (after the commit).
	Mailer mail.Mailer
	Logger *slog.Logger
	// Now is the clock (time.Now when nil); tests set a manual one.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func text(field, v string, maxRunes int) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", apperror.BadInput(field, "must not be empty")
	}
	if !utf8.ValidString(v) {
		return "", apperror.BadInput(field, "is not valid UTF-8")
	}
	if utf8.RuneCountInString(v) > maxRunes {
		return "", apperror.BadInput(field, "is longer than %d characters", maxRunes)
	}
	return v, nil
}

// Open opens a ticket with its first message: about one of the caller's own orders
// (routed to its merchant), an ACTIVE merchant, or the platform.
func (s *Service) Open(ctx context.Context, db *ent.Client, in OpenInput) (*ent.Ticket, error) {
	v := viewer.FromContext(ctx)
	if v.UserID == 0 {
		return nil, apperror.New(apperror.Forbidden, "tickets are opened by people signed in with their own account")
	}
	subject, err := text("subject", in.Subject, MaxSubjectRunes)
	if err != nil {
		return nil, err
	}
	body, err := text("body", in.Body, MaxBodyRunes)
	if err != nil {
		return nil, err
	}
	if len(in.AttachmentIDs) > MaxAttachments {
		return nil, apperror.BadInput("attachmentIDs", "at most %d files", MaxAttachments)
	}
	sys := viewer.SystemContext(ctx)
	var merchantID *int
	switch in.SubjectKind {
	case ticket.SubjectKindORDER:
		if in.OrderID == nil {
			return nil, apperror.BadInput("orderID", "an ORDER ticket names the order")
		}
		if in.MerchantID != nil {
			return nil, apperror.BadInput("merchantID", "an ORDER ticket goes to the order's merchant; leave merchantID out")
		}
		o, err := db.Order.Query().Where(order.ID(*in.OrderID), order.CustomerID(v.UserID)).Only(sys)
		if ent.IsNotFound(err) {
			e := apperror.NotFoundf("no such order")
			e.Field = "orderID"
			return nil, e
		}
		if err != nil {
			return nil, err
		}
		merchantID = &o.MerchantID
	case ticket.SubjectKindMERCHANT:
		if in.MerchantID == nil {
			return nil, apperror.BadInput("merchantID", "a MERCHANT ticket names the merchant")
		}
		if in.OrderID != nil {
			return nil, apperror.BadInput("orderID", "about an order, open an ORDER ticket")
		}
		ok, err := db.Merchant.Query().Where(merchant.ID(*in.MerchantID), merchant.StatusEQ(merchant.StatusACTIVE)).Exist(sys)
		if err != nil {
			return nil, err
		}
		if !ok {
			e := apperror.NotFoundf("no such merchant")
			e.Field = "merchantID"
			return nil, e
		}
		merchantID = in.MerchantID
	case ticket.SubjectKindPLATFORM:
		if in.OrderID != nil || in.MerchantID != nil {
			return nil, apperror.BadInput("subjectKind", "a PLATFORM ticket names no order or merchant")
		}
	default:
		return nil, apperror.BadInput("subjectKind", "is not a ticket subject")
	}
	open, err := db.Ticket.Query().Where(ticket.CustomerID(v.UserID), ticket.StatusNEQ(ticket.StatusCLOSED)).Count(sys)
	if err != nil {
		return nil, err
	}
	if open >= MaxOpenPerCustomer {
		return nil, apperror.New(apperror.RateLimited, "you have %d tickets open; close some first", open)
	}
	now := s.now()
	t, err := db.Ticket.Create().SetCustomerID(v.UserID).SetSubjectKind(in.SubjectKind).
		SetNillableOrderID(in.OrderID).SetNillableMerchantID(merchantID).SetSubject(subject).
		SetResponseDueAt(now.Add(s.SLA)).SetLastMessageAt(now).SetCreatedAt(now).SetUpdatedAt(now).Save(sys)
	if err != nil {
		return nil, err
	}
	m, err := db.TicketMessage.Create().SetTicketID(t.ID).SetAuthorID(v.UserID).
		SetAuthorRole(ticketmessage.AuthorRoleCUSTOMER).SetBody(body).SetCreatedAt(now).Save(sys)
	if err != nil {
		return nil, err
	}
	if err := s.attach(ctx, db, t, m, in.AttachmentIDs); err != nil {
		return nil, err
	}
	return t, nil
}

// attach binds the message's files, shared with the ticket's merchant.
func (s *Service) attach(ctx context.Context, db *ent.Client, t *ent.Ticket, m *ent.TicketMessage, ids []int) error {
	if len(ids) == 0 {
		return nil
	}
	if s.Uploads == nil || s.Uploads.Store() == nil {
		return apperror.BadInput("attachmentIDs", "this server takes no uploads (UPLOAD_STORE is not set)")
	}
	share := 0
	if t.MerchantID != nil {
		share = *t.MerchantID
	}
	_, err := s.Uploads.Bind(ctx, db, upload.BindRequest{IDs: ids, Field: "attachmentIDs",
		Entity: upload.EntityTicketMessage, EntityID: m.ID, ShareWith: share})
	return err
}

// role is the part the caller plays in t: its customer, the merchant's staff, or an admin.
func role(v *viewer.Viewer, t *ent.Ticket) (ticketmessage.AuthorRole, bool) {
	switch {
	case t.CustomerID == v.UserID:
		return ticketmessage.AuthorRoleCUSTOMER, true
	case v.IsAdmin():
		return ticketmessage.AuthorRoleADMIN, true
	case t.MerchantID != nil && v.Has(viewer.RoleMerchant) && v.IsMerchantMember(*t.MerchantID):
		return ticketmessage.AuthorRoleMERCHANT, true
	}
	return "", false
}

// visible is the ticket id if the caller takes part in it (NOT_FOUND otherwise, as a
// missing one), with the caller's part.
func visible(ctx context.Context, db *ent.Client, id int, field string) (*ent.Ticket, ticketmessage.AuthorRole, error) {
	v := viewer.FromContext(ctx)
	t, err := db.Ticket.Get(ctx, id)
	if err == nil {
		if r, ok := role(v, t); ok && v.UserID != 0 {
			return t, r, nil
		}
	} else if !ent.IsNotFound(err) {
		return nil, "", err
	}
	e := apperror.NotFoundf("no such ticket")
	e.Field = field
	return nil, "", e
}

// Reply adds a message. A staff message moves the ticket to ANSWERED and, if it is the
// first, records the first response; a customer message moves it back to OPEN. The
// status write comes first and is conditional on the ticket not being CLOSED, so it also
// locks the ticket row until the commit (MySQL) and serialises everything after it.
func (s *Service) Reply(ctx context.Context, db *ent.Client, in ReplyInput) (*ent.TicketMessage, error) {
	t, r, err := visible(ctx, db, in.TicketID, "ticketID")
	if err != nil {
		return nil, err
	}
	body, err := text("body", in.Body, MaxBodyRunes)
	if err != nil {
		return nil, err
	}
	if len(in.AttachmentIDs) > MaxAttachments {
		return nil, apperror.BadInput("attachmentIDs", "at most %d files", MaxAttachments)
	}
	v := viewer.FromContext(ctx)
	sys := viewer.SystemContext(ctx)
	now := s.now()
	staff := r != ticketmessage.AuthorRoleCUSTOMER
	next := ticket.StatusOPEN
	if staff {
		next = ticket.StatusANSWERED
	}
	n, err := db.Ticket.Update().Where(ticket.ID(t.ID), ticket.StatusNEQ(ticket.StatusCLOSED)).
		SetStatus(next).SetLastMessageAt(now).SetUpdatedAt(now).Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apperror.WrongState(string(ticket.StatusCLOSED), "the ticket is closed; the customer may reopen it")
	}
	count, err := db.TicketMessage.Query().Where(ticketmessage.TicketID(t.ID)).Count(sys)
	if err != nil {
		return nil, err
	}
	if count >= MaxMessages {
		return nil, apperror.WrongState(string(t.Status), "the ticket has %d messages, the most it takes; open a new one", count)
	}
	m, err := db.TicketMessage.Create().SetTicketID(t.ID).SetAuthorID(v.UserID).SetAuthorRole(r).
		SetBody(body).SetCreatedAt(now).Save(sys)
	if err != nil {
		return nil, err
	}
	if staff {
		// Recorded once: later answers find it set and leave it.
		if err := db.Ticket.Update().Where(ticket.ID(t.ID), ticket.FirstResponseAtIsNil()).
			SetFirstResponseAt(now).SetFirstResponseMessageID(m.ID).Exec(sys); err != nil {
			return nil, err
		}
		s.notifyAnswered(ctx, db, t)
	}
	if err := s.attach(ctx, db, t, m, in.AttachmentIDs); err != nil {
		return nil, err
	}
	return m, nil
}

// Close closes the ticket: its customer, the merchant's staff or an admin.
func (s *Service) Close(ctx context.Context, db *ent.Client, id int) (*ent.Ticket, error) {
	t, _, err := visible(ctx, db, id, "id")
	if err != nil {
		return nil, err
	}
	now := s.now()
	n, err := db.Ticket.Update().Where(ticket.ID(t.ID), ticket.StatusNEQ(ticket.StatusCLOSED)).
		SetStatus(ticket.StatusCLOSED).SetClosedAt(now).SetUpdatedAt(now).Save(viewer.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apperror.WrongState(string(ticket.StatusCLOSED), "the ticket is closed already")
	}
	return db.Ticket.Get(viewer.SystemContext(ctx), t.ID)
}

// Reopen lets the customer reopen a closed ticket they have not rated, within
// ReopenWindow of its closing. It waits for staff again (OPEN); the first-response SLA is
// not restarted.
func (s *Service) Reopen(ctx context.Context, db *ent.Client, id int) (*ent.Ticket, error) {
	t, r, err := visible(ctx, db, id, "id")
	if err != nil {
		return nil, err
	}
	if r != ticketmessage.AuthorRoleCUSTOMER {
		return nil, apperror.New(apperror.Forbidden, "only the customer reopens a ticket")
	}
	now := s.now()
	sys := viewer.SystemContext(ctx)
	n, err := db.Ticket.Update().Where(ticket.ID(t.ID), ticket.StatusEQ(ticket.StatusCLOSED),
		ticket.RatingIsNil(), ticket.ClosedAtGTE(now.Add(-s.ReopenWindow))).
		SetStatus(ticket.StatusOPEN).ClearClosedAt().SetUpdatedAt(now).Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		cur, err := db.Ticket.Get(sys, t.ID)
		if err != nil {
			return nil, err
		}
		switch {
		case cur.Status != ticket.StatusCLOSED:
			return nil, apperror.WrongState(string(cur.Status), "the ticket is not closed")
		case cur.Rating != nil:
			return nil, apperror.WrongState(string(cur.Status), "a rated ticket stays closed; open a new one")
		default:
			return nil, apperror.WrongState(string(cur.Status), "the ticket was closed more than %s ago; open a new one", s.ReopenWindow)
		}
	}
	return db.Ticket.Get(sys, t.ID)
}

// Rate records the customer's satisfaction with a closed ticket, once.
func (s *Service) Rate(ctx context.Context, db *ent.Client, id, rating int, comment *string) (*ent.Ticket, error) {
	t, r, err := visible(ctx, db, id, "id")
	if err != nil {
		return nil, err
	}
	if r != ticketmessage.AuthorRoleCUSTOMER {
		return nil, apperror.New(apperror.Forbidden, "only the customer rates a ticket")
	}
	if rating < 1 || rating > 5 {
		return nil, apperror.BadInput("rating", "must be 1 to 5")
	}
	var c *string
	if comment != nil && strings.TrimSpace(*comment) != "" {
		v, err := text("comment", *comment, MaxCommentRunes)
		if err != nil {
			return nil, err
		}
		c = &v
	}
	now := s.now()
	sys := viewer.SystemContext(ctx)
	n, err := db.Ticket.Update().Where(ticket.ID(t.ID), ticket.StatusEQ(ticket.StatusCLOSED), ticket.RatingIsNil()).
		SetRating(rating).SetNillableRatingComment(c).SetRatedAt(now).SetUpdatedAt(now).Save(sys)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		cur, err := db.Ticket.Get(sys, t.ID)
		if err != nil {
			return nil, err
		}
		if cur.Rating != nil {
			return nil, apperror.ConflictOn("rating", "the ticket is rated already")
		}
		return nil, apperror.WrongState(string(cur.Status), "a ticket is rated once it is closed")
	}
	return db.Ticket.Get(sys, t.ID)
}

// Messages are the ticket's messages, oldest first.
func Messages(ctx context.Context, db *ent.Client, t *ent.Ticket) ([]*ent.TicketMessage, error) {
	return db.TicketMessage.Query().Where(ticketmessage.TicketID(t.ID)).
		Order(ent.Asc(ticketmessage.FieldID)).Limit(MaxMessages).All(ctx)
}

// Attachments are the files of a message the caller can see (so takes part in its ticket).
func Attachments(ctx context.Context, db *ent.Client, m *ent.TicketMessage) ([]*ent.Upload, error) {
	return db.Upload.Query().Where(entupload.BoundEntity(upload.EntityTicketMessage), entupload.BoundID(m.ID),
		entupload.StateEQ(entupload.StateBOUND)).Order(ent.Asc(entupload.FieldID)).All(viewer.SystemContext(ctx))
}

// Wrote reports whether the caller wrote m.
func Wrote(ctx context.Context, m *ent.TicketMessage) bool {
	v := viewer.FromContext(ctx)
	return v.UserID != 0 && m.AuthorID != nil && *m.AuthorID == v.UserID
}

// SLAMet is whether t's first answer came in time: nil while none is given and not due yet.
func (s *Service) SLAMet(t *ent.Ticket) *bool {
	var met bool
	switch {
	case t.FirstResponseAt != nil:
		met = !t.FirstResponseAt.After(t.ResponseDueAt)
	case s.now().After(t.ResponseDueAt) && t.Status != ticket.StatusCLOSED:
		met = false
	default:
		return nil
	}
	return &met
}

// Order is the ticket's order as the caller may see it.
func Order(ctx context.Context, db *ent.Client, t *ent.Ticket) (*ent.Order, error) {
	if t.OrderID == nil {
		return nil, nil
	}
	o, err := db.Order.Get(ctx, *t.OrderID)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return o, err
}

// Merchant is the ticket's merchant as the caller may see it.
func Merchant(ctx context.Context, db *ent.Client, t *ent.Ticket) (*ent.Merchant, error) {
	if t.MerchantID == nil {
		return nil, nil
	}
	m, err := db.Merchant.Get(ctx, *t.MerchantID)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return m, err
}

// Get is a ticket the caller takes part in, or nil.
func Get(ctx context.Context, db *ent.Client, id int) (*ent.Ticket, error) {
	t, err := db.Ticket.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return t, err
}

// notifyAnswered mails the customer, once the transaction commits, that staff answered.
// A failure is logged: the answer is in the ticket whatever the mail does.
func (s *Service) notifyAnswered(ctx context.Context, db *ent.Client, t *ent.Ticket) {
	if s.Mailer == nil {
		return
	}
	u, err := db.User.Get(viewer.SystemContext(ctx), t.CustomerID)
	if err != nil || u.Email == nil || *u.Email == "" {
		return
	}
	msg := answeredMessage(*u.Email, u.Locale, t)
	send := func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mail.SendTimeout)
		defer cancel()
		if err := s.Mailer.Send(ctx, msg); err != nil {
			s.logger().ErrorContext(ctx, "sending the ticket-answered message", "ticket_id", t.ID, "err", err)
		}
	}
	tx := ent.TxFromContext(ctx)
	if tx == nil {
		send(ctx)
		return
	}
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(c context.Context, tx *ent.Tx) error {
			if err := next.Commit(c, tx); err != nil {
				return err
			}
			send(ctx)
			return nil
		})
	})
}

// answeredMessage says a ticket was answered, in Chinese or English; it carries the
// subject the customer wrote but not the answer (read it signed in).
func answeredMessage(to, locale string, t *ent.Ticket) mail.Message {
	id := strconv.Itoa(t.ID)
	if strings.HasPrefix(strings.ToLower(locale), "zh") {
		return mail.Message{To: to, Subject: "你的工单有新回复：" + t.Subject,
			Text: "你好，\n\n你的工单（编号 " + id + "）「" + t.Subject + "」有了新的回复。\n请登录查看。\n"}
	}
	return mail.Message{To: to, Subject: "Your ticket was answered: " + t.Subject,
		Text: "Hello,\n\nyour ticket " + id + " \"" + t.Subject + "\" has a new answer.\nSign in to read it.\n"}
}
