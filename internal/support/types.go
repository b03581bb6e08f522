package support

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/xiadan/xiadan/ent/ticket"
)

// ListFilter narrows a ticket list; every given filter must hold.
type ListFilter struct {
	Status      []ticket.Status
	Escalated   *bool
	SubjectKind *ticket.SubjectKind
}

// OpenInput is a new ticket with its first message.
type OpenInput struct {
	SubjectKind   ticket.SubjectKind
	OrderID       *int
	MerchantID    *int
	Subject       string
	Body          string
	AttachmentIDs []int
}

// ReplyInput is a message added to a ticket.
type ReplyInput struct {
	TicketID      int
	Body          string
	AttachmentIDs []int
}

// Period is the length of a report row.
type Period string

// The report periods.
const (
	PeriodDay   Period = "DAY"
	PeriodWeek  Period = "WEEK"
	PeriodMonth Period = "MONTH"
)

// MarshalGQL writes the period as a GraphQL enum value.
func (p Period) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(p))) }

// UnmarshalGQL reads a GraphQL enum value.
func (p *Period) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("ReportPeriod must be a string")
	}
	switch Period(s) {
	case PeriodDay, PeriodWeek, PeriodMonth:
		*p = Period(s)
		return nil
	}
	return fmt.Errorf("%q is not a valid ReportPeriod", s)
}

// Report is the support figures of a range of time, per period and in total.
type Report struct {
	Period Period
	From   time.Time
	To     time.Time
	Rows   []*ReportRow
	Total  *ReportRow
}

// ReportRow is the figures of the tickets opened in one period.
type ReportRow struct {
	Start                      time.Time
	Opened                     int
	Answered                   int
	FirstResponseMedianSeconds *int
	FirstResponseP90Seconds    *int
	SLAMet                     int
	SLAMissed                  int
	SLACompliancePercent       *float64
	Escalated                  int
	Rated                      int
	AverageRating              *float64
}
