package events

import (
	"context"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/predicate"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/apperror"
)

// ReasonCursorExpired is extensions.reason when a resume cursor is older than the
// retention: the client must refetch the state it shows and subscribe afresh.
const ReasonCursorExpired = "CURSOR_EXPIRED"

// Streamer opens event streams for subscriptions.
type Streamer struct {
	DB  *ent.Client
	Hub *Hub
	// Retention is how far back a resume cursor may point.
	Retention time.Duration
	Now       func() time.Time
}

// Stream returns the events matching f — those after the cursor position `after` first
// (when not nil), read from the database, then live ones — until ctx ends or the
// subscriber falls too far behind (then the channel closes and the client resumes with
// its last cursor). The caller has checked that the viewer may see what f selects.
func (s *Streamer) Stream(ctx context.Context, f Filter, after *int64) (<-chan *ent.OrderEvent, error) {
	sctx := privacy.DecisionContext(ctx, privacy.Allow)
	if after != nil {
		if err := s.CheckCursor(ctx, *after); err != nil {
			return nil, err
		}
	}
	sub, hubPos := s.Hub.Subscribe(f)
	out := make(chan *ent.OrderEvent)
	go func() {
		defer close(out)
		defer s.Hub.Unsubscribe(sub)
		last := hubPos
		if after != nil {
			last = *after
			// Missed events, up to where live delivery starts, in pages.
			for last < hubPos {
				page, err := s.DB.OrderEvent.Query().
					Where(orderevent.PositionGT(last), orderevent.PositionLTE(hubPos), matches(f)).
					Order(orderevent.ByPosition()).Limit(500).All(sctx)
				if err != nil {
					return // the client resumes from its last cursor; nothing is skipped
				}
				if len(page) == 0 {
					break
				}
				for _, ev := range page {
					select {
					case out <- ev:
					case <-ctx.Done():
						return
					}
				}
				last = *page[len(page)-1].Position
			}
			last = max(last, hubPos)
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.Dropped():
				return
			case ev := <-sub.Events():
				if pos(ev) <= last {
					continue
				}
				last = pos(ev)
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// CheckCursor refuses a resume position that names no event, or one older than the
// retention (CURSOR_EXPIRED): the client must refetch and start again rather than skip
// what it can no longer be given. Position 0 (from the start) is always fine.
func (s *Streamer) CheckCursor(ctx context.Context, after int64) error {
	if after <= 0 {
		return nil
	}
	ev, err := s.DB.OrderEvent.Query().Where(orderevent.Position(after)).Only(privacy.DecisionContext(ctx, privacy.Allow))
	if ent.IsNotFound(err) {
		return cursorExpired("after names no event")
	}
	if err != nil {
		return err
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	if s.Retention > 0 && ev.CreatedAt.Before(now.Add(-s.Retention)) {
		return cursorExpired("after is older than the event retention (%s); refetch and subscribe again", s.Retention)
	}
	return nil
}

// Since returns up to limit events matching f after position `after`, oldest first,
// refusing an expired cursor as Stream does.
func (s *Streamer) Since(ctx context.Context, f Filter, after int64, limit int) ([]*ent.OrderEvent, error) {
	if err := s.CheckCursor(ctx, after); err != nil {
		return nil, err
	}
	return s.DB.OrderEvent.Query().
		Where(orderevent.PositionGT(after), matches(f)).
		Order(orderevent.ByPosition()).Limit(limit).All(privacy.DecisionContext(ctx, privacy.Allow))
}

func matches(f Filter) predicate.OrderEvent {
	var ps []predicate.OrderEvent
	if f.MerchantID != 0 {
		ps = append(ps, orderevent.MerchantID(f.MerchantID))
	}
	if f.CustomerID != 0 {
		ps = append(ps, orderevent.CustomerID(f.CustomerID))
	}
	if f.OrderID != 0 {
		ps = append(ps, orderevent.OrderID(f.OrderID))
	}
	if len(f.Types) > 0 {
		ps = append(ps, orderevent.TypeIn(f.Types...))
	}
	if len(ps) == 0 {
		return func(*sql.Selector) {}
	}
	return orderevent.And(ps...)
}

func cursorExpired(format string, args ...any) error {
	e := apperror.BadInput("after", format, args...)
	e.Extensions = map[string]any{"reason": ReasonCursorExpired}
	return e
}
