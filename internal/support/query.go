package support

import (
	"context"
	"slices"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/ticket"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Page is a Relay page request.
type Page struct {
	After, Before *entgql.Cursor[int]
	First, Last   *int
}

// recentFirst orders ticket lists by their last message, newest first.
var recentFirst = ent.WithTicketOrder(&ent.TicketOrder{Field: ent.TicketOrderFieldLastMessageAt, Direction: entgql.OrderDirectionDesc})

func (f *ListFilter) predicates() []predicate.Ticket {
	if f == nil {
		return nil
	}
	var ps []predicate.Ticket
	if len(f.Status) > 0 {
		ps = append(ps, ticket.StatusIn(f.Status...))
	}
	if f.Escalated != nil {
		ps = append(ps, ticket.Escalated(*f.Escalated))
	}
	if f.SubjectKind != nil {
		ps = append(ps, ticket.SubjectKindEQ(*f.SubjectKind))
	}
	return ps
}

// Mine lists the caller's own tickets.
func Mine(ctx context.Context, db *ent.Client, p Page, f *ListFilter) (*ent.TicketConnection, error) {
	v := viewer.FromContext(ctx)
	return db.Ticket.Query().Where(ticket.CustomerID(v.UserID)).Where(f.predicates()...).
		Paginate(ctx, p.After, p.First, p.Before, p.Last, recentFirst)
}

// OfMerchant lists the tickets routed to a merchant: staff their own, admins the one they name.
func OfMerchant(ctx context.Context, db *ent.Client, merchantID *int, p Page, f *ListFilter) (*ent.TicketConnection, error) {
	mid, err := scopeMerchant(ctx, merchantID, true)
	if err != nil {
		return nil, err
	}
	return db.Ticket.Query().Where(ticket.MerchantID(*mid)).Where(f.predicates()...).
		Paginate(ctx, p.After, p.First, p.Before, p.Last, recentFirst)
}

// All lists every ticket (admins).
func All(ctx context.Context, db *ent.Client, p Page, f *ListFilter) (*ent.TicketConnection, error) {
	return db.Ticket.Query().Where(f.predicates()...).Paginate(ctx, p.After, p.First, p.Before, p.Last, recentFirst)
}

// scopeMerchant is the merchant a merchant-side query is about: a staff member's own
// (naming another is NOT_FOUND), or the one an admin names (nil: the whole platform, when
// allowed).
func scopeMerchant(ctx context.Context, merchantID *int, required bool) (*int, error) {
	v := viewer.FromContext(ctx)
	if v.IsAdmin() {
		if merchantID == nil && required {
			return nil, apperror.BadInput("merchantID", "admins name the merchant")
		}
		return merchantID, nil
	}
	if !v.Has(viewer.RoleMerchant) || !v.IsMerchantMember(v.MerchantID) {
		return nil, apperror.New(apperror.Forbidden, "this is for merchant staff")
	}
	if merchantID != nil && *merchantID != v.MerchantID {
		e := apperror.NotFoundf("no such merchant")
		e.Field = "merchantID"
		return nil, e
	}
	id := v.MerchantID
	return &id, nil
}

// MaxReportDays bounds a report's range, and so the tickets it reads.
const MaxReportDays = 366

// MaxReportTickets bounds the tickets a report reads; a range with more must be narrowed.
const MaxReportTickets = 200_000

// reportTicket is what a report reads of a ticket.
type reportTicket struct {
	CreatedAt       time.Time  `json:"created_at"`
	ResponseDueAt   time.Time  `json:"response_due_at"`
	FirstResponseAt *time.Time `json:"first_response_at"`
	Escalated       bool       `json:"escalated"`
	Status          string     `json:"status"`
	Rating          *int       `json:"rating"`
}

// Report gives, per period of tickets opened in [from, to), the tickets opened and
// answered, first-response median and 90th percentile, SLA met and missed, escalations
// and ratings. The figures are computed here over the range's tickets (at most
// MaxReportTickets, one indexed range scan of six columns), which keeps one code path for
// MySQL and SQLite: neither has a portable percentile function.
func (s *Service) Report(ctx context.Context, db *ent.Client, period Period, from, to time.Time, merchantID *int) (*Report, error) {
	mid, err := scopeMerchant(ctx, merchantID, false)
	if err != nil {
		return nil, err
	}
	from, to = from.UTC(), to.UTC()
	if !to.After(from) {
		return nil, apperror.BadInput("to", "must be after from")
	}
	if to.Sub(from) > MaxReportDays*24*time.Hour {
		return nil, apperror.BadInput("to", "a report covers at most %d days", MaxReportDays)
	}
	q := db.Ticket.Query().Where(ticket.CreatedAtGTE(from), ticket.CreatedAtLT(to))
	if mid != nil {
		q.Where(ticket.MerchantID(*mid))
	}
	var rows []reportTicket
	if err := q.Limit(MaxReportTickets+1).Select(ticket.FieldCreatedAt, ticket.FieldResponseDueAt,
		ticket.FieldFirstResponseAt, ticket.FieldEscalated, ticket.FieldStatus, ticket.FieldRating).
		Scan(viewer.SystemContext(ctx), &rows); err != nil {
		return nil, err
	}
	if len(rows) > MaxReportTickets {
		return nil, apperror.BadInput("from", "more than %d tickets in the range; narrow it", MaxReportTickets)
	}
	now := s.now()
	buckets := map[time.Time]*acc{}
	total := &acc{}
	for _, t := range rows {
		start := periodStart(period, t.CreatedAt.UTC())
		a := buckets[start]
		if a == nil {
			a = &acc{}
			buckets[start] = a
		}
		a.add(t, now)
		total.add(t, now)
	}
	out := &Report{Period: period, From: from, To: to, Total: total.row(periodStart(period, from))}
	for start := periodStart(period, from); start.Before(to); start = next(period, start) {
		a := buckets[start]
		if a == nil {
			a = &acc{}
		}
		out.Rows = append(out.Rows, a.row(start))
	}
	return out, nil
}

// acc accumulates one period's tickets.
type acc struct {
	opened, answered, met, missed, escalated, rated, ratingSum int
	responses                                                  []time.Duration
}

func (a *acc) add(t reportTicket, now time.Time) {
	a.opened++
	if t.Escalated {
		a.escalated++
	}
	if t.Rating != nil {
		a.rated++
		a.ratingSum += *t.Rating
	}
	switch {
	case t.FirstResponseAt != nil:
		a.answered++
		a.responses = append(a.responses, t.FirstResponseAt.Sub(t.CreatedAt))
		if t.FirstResponseAt.After(t.ResponseDueAt) {
			a.missed++
		} else {
			a.met++
		}
	case now.After(t.ResponseDueAt) && (t.Status != string(ticket.StatusCLOSED) || t.Escalated):
		// Overdue and unanswered (closed ones count only if they were escalated: a
		// customer who closes their own ticket before anyone answers withdrew it).
		a.missed++
	}
}

func (a *acc) row(start time.Time) *ReportRow {
	r := &ReportRow{Start: start, Opened: a.opened, Answered: a.answered, SLAMet: a.met, SLAMissed: a.missed,
		Escalated: a.escalated, Rated: a.rated}
	if len(a.responses) > 0 {
		slices.Sort(a.responses)
		med, p90 := seconds(percentile(a.responses, 50)), seconds(percentile(a.responses, 90))
		r.FirstResponseMedianSeconds, r.FirstResponseP90Seconds = &med, &p90
	}
	if a.met+a.missed > 0 {
		pct := float64(a.met) * 100 / float64(a.met+a.missed)
		r.SLACompliancePercent = &pct
	}
	if a.rated > 0 {
		avg := float64(a.ratingSum) / float64(a.rated)
		r.AverageRating = &avg
	}
	return r
}

// percentile is the nearest-rank p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 × n)
	return sorted[max(rank, 1)-1]
}

func seconds(d time.Duration) int { return int(d / time.Second) }

// periodStart is the start of the period holding t: its UTC day, its week from Monday,
// its month.
func periodStart(p Period, t time.Time) time.Time {
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch p {
	case PeriodWeek:
		return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	case PeriodMonth:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return day
}

func next(p Period, start time.Time) time.Time {
	switch p {
	case PeriodWeek:
		return start.AddDate(0, 0, 7)
	case PeriodMonth:
		return start.AddDate(0, 1, 0)
	}
	return start.AddDate(0, 0, 1)
}
