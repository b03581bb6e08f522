package events

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/privacy"
)

// Filter selects the events a subscriber receives; zero fields match everything.
type Filter struct {
	MerchantID, CustomerID, OrderID int
	Types                           []orderevent.Type
}

// Match reports whether ev passes the filter.
func (f Filter) Match(ev *ent.OrderEvent) bool {
	return (f.MerchantID == 0 || ev.MerchantID == f.MerchantID) &&
		(f.CustomerID == 0 || ev.CustomerID == f.CustomerID) &&
		(f.OrderID == 0 || ev.OrderID == f.OrderID) &&
		(len(f.Types) == 0 || slices.Contains(f.Types, ev.Type))
}

// ErrSlow is why a subscriber that could not keep up was disconnected.
const ErrSlow = "the subscriber did not keep up with its events and was disconnected; resume with the last cursor"

// Sub is one local subscriber: a bounded queue of matching events.
type Sub struct {
	filter Filter
	ch     chan *ent.OrderEvent
	// dropped is closed when the hub disconnected the subscriber for being slow.
	dropped chan struct{}
	once    sync.Once
}

// Events are the subscriber's live events, in position order.
func (s *Sub) Events() <-chan *ent.OrderEvent { return s.ch }

// Dropped is closed when the hub gave up on a slow subscriber.
func (s *Sub) Dropped() <-chan struct{} { return s.dropped }

// Hub fans the events of one replica out to its local subscribers. It delivers every
// position exactly once and in order: duplicates from the bus are dropped, and a gap
// (events published while this hub missed them) is read from the database first.
type Hub struct {
	db     *ent.Client
	logger *slog.Logger
	// Buffer is each subscriber's queue length; a subscriber whose queue is full is
	// disconnected rather than slowing the hub (and everyone else) down. Set it with
	// SetBuffer once subscribers may be connecting.
	Buffer int

	mu   sync.Mutex
	last int64
	subs map[*Sub]struct{}
}

// NewHub returns a hub that has seen every event up to position start.
func NewHub(db *ent.Client, start int64, logger *slog.Logger) *Hub {
	return &Hub{db: db, logger: logger, Buffer: 1024, last: start, subs: map[*Sub]struct{}{}}
}

// SetBuffer changes the queue length of subscribers that connect from now on.
func (h *Hub) SetBuffer(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Buffer = n
}

// Start sets the position the hub has seen up to, before the bus starts delivering.
func (h *Hub) Start(position int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = position
}

// Subscribe registers a subscriber and returns the position the hub had reached: every
// later event will be queued for it.
func (h *Hub) Subscribe(f Filter) (*Sub, int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &Sub{filter: f, ch: make(chan *ent.OrderEvent, h.Buffer), dropped: make(chan struct{})}
	h.subs[s] = struct{}{}
	return s, h.last
}

// Unsubscribe removes a subscriber.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
}

// Subscribers is how many subscribers the hub has.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Position is the last position the hub delivered.
func (h *Hub) Position() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// Deliver takes published events (as the bus hands them over) and fans them out.
func (h *Hub) Deliver(evs []*ent.OrderEvent) {
	evs = slices.Clone(evs)
	slices.SortFunc(evs, func(a, b *ent.OrderEvent) int { return int(pos(a) - pos(b)) })
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range evs {
		p := pos(ev)
		if p <= h.last {
			continue // seen already
		}
		if p > h.last+1 {
			h.fillGap(p)
		}
		h.fanOut(ev)
	}
}

// maxGap is the most missed events the hub reads back; past it (a long bus outage) its
// subscribers are disconnected and resume from their cursors instead.
const maxGap = 5000

// fillGap delivers the events before position p that the hub missed, from the database.
// If it cannot read them all, it disconnects every subscriber rather than let one skip an
// event: each resumes from its last cursor. Called with h.mu held.
func (h *Hub) fillGap(p int64) {
	gap := p - h.last - 1
	var missed []*ent.OrderEvent
	var err error
	if gap <= maxGap {
		ctx, cancel := context.WithTimeout(privacy.DecisionContext(context.Background(), privacy.Allow), 5*time.Second)
		missed, err = h.db.OrderEvent.Query().
			Where(orderevent.PositionGT(h.last), orderevent.PositionLT(p)).
			Order(orderevent.ByPosition()).All(ctx)
		cancel()
	}
	if gap > maxGap || err != nil || int64(len(missed)) != gap {
		h.logger.Error("events: missed events not recovered; subscribers must resume", "from", h.last+1, "to", p-1,
			"read", len(missed), "err", err)
		for s := range h.subs {
			delete(h.subs, s)
			s.once.Do(func() { close(s.dropped) })
		}
		h.last = p - 1
		return
	}
	for _, m := range missed {
		h.fanOut(m)
	}
}

func (h *Hub) fanOut(ev *ent.OrderEvent) {
	h.last = pos(ev)
	for s := range h.subs {
		if !s.filter.Match(ev) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			delete(h.subs, s)
			s.once.Do(func() { close(s.dropped) })
			h.logger.Warn("events: slow subscriber disconnected", "position", h.last)
		}
	}
}

func pos(ev *ent.OrderEvent) int64 {
	if ev.Position == nil {
		return 0
	}
	return *ev.Position
}
