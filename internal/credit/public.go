package credit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchantcredit"
	"github.com/xiadan/xiadan/ent/merchantcreditsnapshot"
	"github.com/xiadan/xiadan/ent/merchantsanction"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Badge is a badge's name, MerchantBadge in GraphQL.
type Badge string

// MarshalGQL writes the badge as its enum value.
func (b Badge) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(b))) }

// UnmarshalGQL reads a badge (badges are output only, but gqlgen asks for both).
func (b *Badge) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("badge must be a string")
	}
	*b = Badge(s)
	return nil
}

// Public is a merchant's credit as everyone sees it.
type Public struct {
	Score, Level int
	Badges       []Badge
	UpdatedAt    time.Time
}

// Component is one part of the score, for the details.
type Component struct {
	Name   string
	Value  float64
	Weight int
}

// Point is a merchant's credit on one day.
type Point struct {
	Day          string
	Score, Level int
}

// Standing is what a merchant's sanctions in force do at the time it was read.
type Standing struct {
	RestrictedUntil, SuspendedUntil, RemovedAt *time.Time
}

// Details is how a merchant's credit came about, for its members and admins.
type Details struct {
	Score, Level        int
	Badges              []Badge
	UpdatedAt           time.Time
	Components          []Component
	Penalty             int
	Inputs              Inputs
	WindowDays          int
	AfterSalesAvailable bool
	History             []Point
}

// RatingAverage is the mean of the ratings, nil without any.
func (in Inputs) RatingAverage() *float64 {
	if in.Ratings == 0 {
		return nil
	}
	f := float64(in.RatingSum) / float64(in.Ratings)
	return &f
}

// AverageResponseHours is the mean time to answer a request, in hours; nil without answers.
func (d DisputeStats) AverageResponseHours() *float64 {
	if d.Responses == 0 {
		return nil
	}
	f := (d.ResponseTime / time.Duration(d.Responses)).Hours()
	return &f
}

func badges(names []string) []Badge {
	out := make([]Badge, len(names))
	for i, n := range names {
		out[i] = Badge(n)
	}
	return out
}

// PublicOf returns merchant m's public credit, nil before it was first computed. The
// caller has read m under the viewer's privacy: whoever sees the merchant sees its credit.
func PublicOf(ctx context.Context, db *ent.Client, m *ent.Merchant) (*Public, error) {
	c, err := db.MerchantCredit.Query().Where(merchantcredit.MerchantID(m.ID)).Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &Public{Score: c.Score, Level: c.Level, Badges: badges(c.Badges), UpdatedAt: c.ComputedAt}, nil
}

// mayInspect reports whether the viewer may see merchant id's details: its members and
// admins.
func mayInspect(ctx context.Context, id int) bool {
	v := viewer.FromContext(ctx)
	return v.IsAdmin() || v.IsMerchantMember(id)
}

// DetailsOf returns how merchant m's credit came about, for its members and admins; nil
// for everyone else, and before the credit was first computed.
func DetailsOf(ctx context.Context, db *ent.Client, m *ent.Merchant) (*Details, error) {
	if !mayInspect(ctx, m.ID) {
		return nil, nil
	}
	c, err := db.MerchantCredit.Query().Where(merchantcredit.MerchantID(m.ID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return details(ctx, db, c)
}

func details(ctx context.Context, db *ent.Client, c *ent.MerchantCredit) (*Details, error) {
	var b Breakdown
	raw, err := json.Marshal(c.Breakdown)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, err
	}
	d := &Details{Score: c.Score, Level: c.Level, Badges: badges(c.Badges), UpdatedAt: c.ComputedAt,
		Penalty: b.Penalty, Inputs: b.Inputs, WindowDays: b.WindowDays, AfterSalesAvailable: b.DisputeSource,
		Components: []Component{}, History: []Point{}}
	for _, name := range Components {
		if v, ok := b.Components[name]; ok {
			d.Components = append(d.Components, Component{Name: name, Value: v, Weight: b.Weights[name]})
		}
	}
	snaps, err := db.MerchantCreditSnapshot.Query().Where(merchantcreditsnapshot.MerchantID(c.MerchantID)).
		Order(ent.Desc(merchantcreditsnapshot.FieldDay)).Limit(90).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range snaps {
		d.History = append(d.History, Point{Day: s.Day, Score: s.Score, Level: s.Level})
	}
	return d, nil
}

// RecomputeDetails is the admin's recompute of merchant id, answered with the details.
func (s *Service) RecomputeDetails(ctx context.Context, db *ent.Client, id int) (*Details, error) {
	c, err := s.RecomputeNow(ctx, db, id)
	if err != nil {
		return nil, err
	}
	return details(ctx, db, c)
}

// SanctionsOf lists merchant m's sanctions, newest first (up to 50), for its members and
// admins (the privacy rule agrees); empty for everyone else.
func SanctionsOf(ctx context.Context, db *ent.Client, m *ent.Merchant) ([]*ent.MerchantSanction, error) {
	if !mayInspect(ctx, m.ID) {
		return []*ent.MerchantSanction{}, nil
	}
	return db.MerchantSanction.Query().Where(merchantsanction.MerchantID(m.ID)).
		Order(ent.Desc(merchantsanction.FieldCreatedAt), ent.Desc(merchantsanction.FieldID)).Limit(50).All(ctx)
}

// StandingOf says what merchant m's sanctions do now, for its members and admins; nil for
// everyone else.
func StandingOf(ctx context.Context, m *ent.Merchant) *Standing {
	if !mayInspect(ctx, m.ID) {
		return nil
	}
	now := standing.Now(ctx)
	st := &Standing{RemovedAt: m.RemovedAt}
	if m.RestrictedUntil != nil && m.RestrictedUntil.After(now) {
		st.RestrictedUntil = m.RestrictedUntil
	}
	if m.SuspendedUntil != nil && m.SuspendedUntil.After(now) {
		st.SuspendedUntil = m.SuspendedUntil
	}
	return st
}

// Active reports whether sanction sn applies at the request's time.
func Active(ctx context.Context, sn *ent.MerchantSanction) bool {
	return InForce(sn, standing.Now(ctx))
}
