package analytics

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/analyticsevent"
	"github.com/xiadan/xiadan/ent/analyticstrafficday"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Kind is what a shopper did (GraphQL TrackEventKind).
type Kind string

// Kinds of events.
const (
	KindViewProduct   Kind = "VIEW_PRODUCT"
	KindAddToCart     Kind = "ADD_TO_CART"
	KindBeginCheckout Kind = "BEGIN_CHECKOUT"
	KindSearch        Kind = "SEARCH"
)

// MarshalGQL writes the kind as a GraphQL enum value.
func (k Kind) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(k))) }

// UnmarshalGQL reads a GraphQL enum value.
func (k *Kind) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	switch Kind(s) {
	case KindViewProduct, KindAddToCart, KindBeginCheckout, KindSearch:
		*k = Kind(s)
		return nil
	}
	return fmt.Errorf("%v is not a valid TrackEventKind", v)
}

// EventInput is one event of a batch (GraphQL TrackEventInput).
type EventInput struct {
	Kind         Kind       `json:"kind"`
	ProductID    *int       `json:"productID,omitempty"`
	Query        *string    `json:"query,omitempty"`
	ResultsCount *int       `json:"resultsCount,omitempty"`
	OccurredAt   *time.Time `json:"occurredAt,omitempty"`
	Channel      *Channel   `json:"channel,omitempty"`
}

// EventsInput is a batch of one visitor's events (GraphQL TrackEventsInput).
type EventsInput struct {
	VisitorID string        `json:"visitorID"`
	Events    []*EventInput `json:"events"`
}

// TrackResult answers trackEvents.
type TrackResult struct {
	// Accepted is how many events were stored.
	Accepted int `json:"accepted"`
}

// trafficKey is one row of analytics_traffic_days.
type trafficKey struct {
	merchant, day, product int
	channel                Channel
}

type trafficCounts struct{ views, carts, checkouts, searches int64 }

// TrackEvents stores a batch of behaviour events of one visitor in db's transaction and
// counts them into the daily traffic rollup. Events naming a product the caller cannot see
// (unknown or hidden) are dropped silently, so the answer says nothing a product(id:)
// query would not.
func (s *Service) TrackEvents(ctx context.Context, db *ent.Client, in EventsInput) (*TrackResult, error) {
	if err := validateBatch(in); err != nil {
		return nil, err
	}
	// One batch counts against the visitor and against the client's address (more: many
	// shoppers share an address behind a carrier's NAT).
	if wait := s.limits.Take(ctx, "analytics:visitor:"+in.VisitorID, s.cfg.BatchesPerMinute, time.Minute); wait > 0 {
		return nil, apperror.Limited(wait)
	}
	addr := auth.AddressKey(auth.ClientFromContext(ctx).IP)
	if wait := s.limits.Take(ctx, "analytics:address:"+addr, 10*s.cfg.BatchesPerMinute, time.Minute); wait > 0 {
		return nil, apperror.Limited(wait)
	}

	ids := make([]int, 0, len(in.Events))
	for _, e := range in.Events {
		if e.ProductID != nil {
			ids = append(ids, *e.ProductID)
		}
	}
	type productRef struct{ merchant int }
	visible := map[int]productRef{}
	if len(ids) > 0 {
		// The caller's own context: the product policy hides what they may not see.
		ps, err := db.Product.Query().Where(product.IDIn(ids...)).
			Select(product.FieldID, product.FieldMerchantID).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			visible[p.ID] = productRef{merchant: p.MerchantID}
		}
	}

	now := s.now()
	v := viewer.FromContext(ctx)
	sys := viewer.SystemContext(ctx)
	creates := make([]*ent.AnalyticsEventCreate, 0, len(in.Events))
	counts := map[trafficKey]*trafficCounts{}
	for _, e := range in.Events {
		key := trafficKey{channel: ChannelWeb}
		if e.Channel != nil {
			key.channel = *e.Channel
		}
		c := db.AnalyticsEvent.Create().
			SetKind(analyticsevent.Kind(e.Kind)).
			SetChannel(analyticsevent.Channel(key.channel)).
			SetVisitorID(in.VisitorID).
			SetCreatedAt(now)
		if e.ProductID != nil {
			p, ok := visible[*e.ProductID]
			if !ok {
				continue
			}
			c.SetProductID(*e.ProductID).SetMerchantID(p.merchant)
			key.merchant, key.product = p.merchant, *e.ProductID
		}
		if v.UserID != 0 {
			c.SetUserID(v.UserID)
		}
		if e.Query != nil {
			c.SetQuery(*e.Query)
		}
		if e.ResultsCount != nil {
			c.SetResults(*e.ResultsCount)
		}
		at := clamp(e.OccurredAt, now)
		c.SetOccurredAt(at)
		key.day = s.dayOf(at)
		creates = append(creates, c)
		n := counts[key]
		if n == nil {
			n = &trafficCounts{}
			counts[key] = n
		}
		switch e.Kind {
		case KindViewProduct:
			n.views++
		case KindAddToCart:
			n.carts++
		case KindBeginCheckout:
			n.checkouts++
		case KindSearch:
			n.searches++
		}
	}
	if len(creates) == 0 {
		return &TrackResult{}, nil
	}
	if err := db.AnalyticsEvent.CreateBulk(creates...).Exec(sys); err != nil {
		return nil, err
	}
	// Rows in one order in every transaction, so that concurrent batches never wait on
	// each other in a cycle.
	keys := make([]trafficKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b trafficKey) int {
		return cmp.Or(cmp.Compare(a.merchant, b.merchant), cmp.Compare(a.day, b.day),
			cmp.Compare(a.product, b.product), cmp.Compare(a.channel, b.channel))
	})
	for _, k := range keys {
		n := counts[k]
		err := db.AnalyticsTrafficDay.Create().
			SetMerchantID(k.merchant).SetDay(k.day).SetProductID(k.product).
			SetChannel(analyticstrafficday.Channel(k.channel)).
			SetViews(n.views).SetCarts(n.carts).SetCheckouts(n.checkouts).SetSearches(n.searches).
			OnConflictColumns(analyticstrafficday.FieldMerchantID, analyticstrafficday.FieldDay,
				analyticstrafficday.FieldProductID, analyticstrafficday.FieldChannel).
			Update(func(u *ent.AnalyticsTrafficDayUpsert) {
				u.AddViews(n.views).AddCarts(n.carts).AddCheckouts(n.checkouts).AddSearches(n.searches)
			}).Exec(sys)
		if err != nil {
			return nil, err
		}
	}
	return &TrackResult{Accepted: len(creates)}, nil
}

// clamp keeps an event's time within PastWindow before now and never after it.
func clamp(at *time.Time, now time.Time) time.Time {
	switch {
	case at == nil || at.After(now):
		return now
	case at.Before(now.Add(-PastWindow)):
		return now.Add(-PastWindow)
	}
	return at.UTC().Truncate(time.Microsecond)
}

func validateBatch(in EventsInput) error {
	var errs []error
	if n := utf8.RuneCountInString(in.VisitorID); n == 0 || n > MaxVisitorIDRunes || !utf8.ValidString(in.VisitorID) ||
		strings.IndexFunc(in.VisitorID, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		errs = append(errs, apperror.BadInput("input.visitorID", "must be 1 to %d printable characters without spaces", MaxVisitorIDRunes))
	}
	if len(in.Events) == 0 || len(in.Events) > MaxEventsPerBatch {
		errs = append(errs, apperror.BadInput("input.events", "must hold 1 to %d events", MaxEventsPerBatch))
		return apperror.Join(errs...)
	}
	for i, e := range in.Events {
		f := fmt.Sprintf("input.events.%d.", i)
		if e.Query != nil {
			if e.Kind != KindSearch {
				errs = append(errs, apperror.BadInput(f+"query", "is only for SEARCH events"))
			} else if !utf8.ValidString(*e.Query) || utf8.RuneCountInString(*e.Query) > MaxQueryRunes {
				errs = append(errs, apperror.BadInput(f+"query", "must be at most %d characters", MaxQueryRunes))
			}
		}
		if e.ResultsCount != nil {
			if e.Kind != KindSearch {
				errs = append(errs, apperror.BadInput(f+"resultsCount", "is only for SEARCH events"))
			} else if *e.ResultsCount < 0 || *e.ResultsCount > MaxResultsCount {
				errs = append(errs, apperror.BadInput(f+"resultsCount", "must be between 0 and %d", MaxResultsCount))
			}
		}
		if e.Kind != KindSearch && e.ProductID == nil {
			errs = append(errs, apperror.BadInput(f+"productID", "is required for %s events", e.Kind))
		}
	}
	return apperror.Join(errs...)
}
