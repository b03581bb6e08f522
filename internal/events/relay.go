package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/relaystate"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
)

// relayName names the relay's row in relay_states.
const relayName = "order-events"

// Relay numbers committed order events and publishes them. Several replicas may run it
// at once: each step locks the relay's row first, so one relay at a time numbers and
// publishes, in one order for everyone (and on NATS the event id is the message id, so
// a repeated publish is dropped by the stream too).
type Relay struct {
	DB     *ent.Client
	Bus    Bus
	Logger *slog.Logger
	// Interval is how often the relay looks for new events without being nudged.
	Interval time.Duration
	// Batch is the most events numbered or published per step.
	Batch int
	// OnNumbered runs in the numbering transaction, with the events just numbered: the
	// webhook deliveries are created there, so a committed event always gets them.
	OnNumbered func(ctx context.Context, tx *ent.Client, evs []*ent.OrderEvent) error

	nudge      chan struct{}
	stateReady atomic.Bool
}

// NewRelay returns a relay publishing on bus.
func NewRelay(db *ent.Client, bus Bus, logger *slog.Logger) *Relay {
	return &Relay{DB: db, Bus: bus, Logger: logger, Interval: 250 * time.Millisecond, Batch: 500,
		nudge: make(chan struct{}, 1)}
}

// Nudge tells the relay new events were committed, so it runs now rather than at its
// next tick. It never blocks.
func (r *Relay) Nudge() {
	select {
	case r.nudge <- struct{}{}:
	default:
	}
}

// Run numbers and publishes until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		for {
			n, p, err := r.RunOnce(ctx)
			if err != nil {
				if ctx.Err() == nil {
					r.Logger.Error("events: relay", "err", err)
				}
				break
			}
			if n < r.Batch && p < r.Batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.nudge:
		}
	}
}

// RunOnce numbers one batch of committed events and publishes one batch of numbered ones.
func (r *Relay) RunOnce(ctx context.Context) (numbered, published int, err error) {
	ctx = privacy.DecisionContext(ctx, privacy.Allow)
	if err = r.ensureState(ctx); err != nil {
		return 0, 0, fmt.Errorf("creating the relay state: %w", err)
	}
	if numbered, err = r.number(ctx); err != nil {
		return 0, 0, fmt.Errorf("numbering events: %w", err)
	}
	if published, err = r.publish(ctx); err != nil {
		return numbered, 0, fmt.Errorf("publishing events: %w", err)
	}
	return numbered, published, nil
}

// PublishedPosition is the position up to which events were published.
func (r *Relay) PublishedPosition(ctx context.Context) (int64, error) {
	st, err := r.DB.RelayState.Query().Where(relaystate.Name(relayName)).Only(privacy.DecisionContext(ctx, privacy.Allow))
	if ent.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return st.PublishedPosition, nil
}

// state locks the relay's row in tx. The row is created beforehand (ensureState), outside
// any locking transaction: two replicas that both found it missing inside their
// transactions would each hold a gap lock the other's insert waits for, and deadlock.
func state(ctx context.Context, tx *ent.Client) (*ent.RelayState, error) {
	return tx.RelayState.Query().Where(relaystate.Name(relayName), hooks.LockRows).Only(ctx)
}

// ensureState creates the relay's row once per relay, as a statement of its own; several
// replicas may race to create it and the unique name keeps one.
func (r *Relay) ensureState(ctx context.Context) error {
	if r.stateReady.Load() {
		return nil
	}
	err := r.DB.RelayState.Create().SetName(relayName).
		OnConflictColumns(relaystate.FieldName).Ignore().Exec(ctx)
	if err != nil {
		return err
	}
	r.stateReady.Store(true)
	return nil
}

func (r *Relay) number(ctx context.Context) (int, error) {
	n := 0
	err := withTx(ctx, r.DB, func(tx *ent.Client) error {
		st, err := state(ctx, tx)
		if err != nil {
			return err
		}
		evs, err := tx.OrderEvent.Query().Where(orderevent.PositionIsNil()).
			Order(orderevent.ByID()).Limit(r.Batch).All(ctx)
		if err != nil || len(evs) == 0 {
			return err
		}
		merchants := map[int]bool{}
		var mids []int
		for _, ev := range evs {
			if !merchants[ev.MerchantID] {
				merchants[ev.MerchantID] = true
				mids = append(mids, ev.MerchantID)
			}
		}
		var rows []struct {
			MerchantID int   `json:"merchant_id"`
			Max        int64 `json:"max"`
		}
		if err := tx.OrderEvent.Query().Where(orderevent.MerchantIDIn(mids...), orderevent.SequenceNotNil()).
			GroupBy(orderevent.FieldMerchantID).Aggregate(ent.As(ent.Max(orderevent.FieldSequence), "max")).
			Scan(ctx, &rows); err != nil {
			return err
		}
		seq := map[int]int64{}
		for _, row := range rows {
			seq[row.MerchantID] = row.Max
		}
		position := st.AssignedPosition
		var (
			posCase, seqCase strings.Builder
			posArgs, seqArgs []any
			ids              []any
		)
		for _, ev := range evs {
			position++
			seq[ev.MerchantID]++
			p, s := position, seq[ev.MerchantID]
			ev.Position, ev.Sequence = &p, &s
			posCase.WriteString(" WHEN ? THEN ?")
			seqCase.WriteString(" WHEN ? THEN ?")
			posArgs = append(posArgs, ev.ID, p)
			seqArgs = append(seqArgs, ev.ID, s)
			ids = append(ids, ev.ID)
		}
		// One statement for the whole batch.
		query := "UPDATE `order_events` SET `position` = CASE `id`" + posCase.String() + " END, `sequence` = CASE `id`" +
			seqCase.String() + " END WHERE `id` IN (" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")"
		args := append(append(posArgs, seqArgs...), ids...)
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return err
		}
		if r.OnNumbered != nil {
			if err := r.OnNumbered(ctx, tx, evs); err != nil {
				return err
			}
		}
		n = len(evs)
		return tx.RelayState.UpdateOne(st).SetAssignedPosition(position).Exec(ctx)
	})
	return n, err
}

func (r *Relay) publish(ctx context.Context) (int, error) {
	n := 0
	err := withTx(ctx, r.DB, func(tx *ent.Client) error {
		st, err := state(ctx, tx)
		if err != nil || st.PublishedPosition >= st.AssignedPosition {
			return err
		}
		evs, err := tx.OrderEvent.Query().
			Where(orderevent.PositionGT(st.PublishedPosition), orderevent.PositionLTE(st.AssignedPosition)).
			Order(orderevent.ByPosition()).Limit(r.Batch).All(ctx)
		if err != nil || len(evs) == 0 {
			return err
		}
		// Published while the row is locked: one publisher at a time, in position order.
		// A crash after this and before the commit publishes them again on restart; hubs
		// and the JetStream stream drop the duplicates.
		// Bounded: a lost acknowledgement must not hold the relay's row lock (and stop
		// numbering on every replica) forever; the batch is published again next time.
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := r.Bus.Publish(pctx, evs); err != nil {
			return err
		}
		n = len(evs)
		return tx.RelayState.UpdateOne(st).SetPublishedPosition(*evs[len(evs)-1].Position).Exec(ctx)
	})
	return n, err
}

func withTx(ctx context.Context, db *ent.Client, fn func(tx *ent.Client) error) error {
	tx, err := db.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx.Client()); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// Backlog reads what the relay has still to do: events committed but not numbered,
// numbered but not published, and when the oldest of them was committed. Each read is
// an indexed lookup, cheap enough for every metrics scrape.
func (r *Relay) Backlog(ctx context.Context) (unnumbered, unpublished int64, oldest time.Time, err error) {
	ctx = privacy.DecisionContext(ctx, privacy.Allow)
	var published int64
	st, err := r.DB.RelayState.Query().Where(relaystate.Name(relayName)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return 0, 0, time.Time{}, err
	default:
		unpublished, published = st.AssignedPosition-st.PublishedPosition, st.PublishedPosition
	}
	n, err := r.DB.OrderEvent.Query().Where(orderevent.PositionIsNil()).Count(ctx)
	if err != nil {
		return 0, 0, time.Time{}, err
	}
	unnumbered = int64(n)
	if unnumbered > 0 {
		ev, err := r.DB.OrderEvent.Query().Where(orderevent.PositionIsNil()).Order(orderevent.ByID()).First(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return 0, 0, time.Time{}, err
		}
		if ev != nil {
			oldest = ev.CreatedAt
		}
	}
	if unpublished > 0 {
		ev, err := r.DB.OrderEvent.Query().Where(orderevent.Position(published + 1)).Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return 0, 0, time.Time{}, err
		}
		if ev != nil && (oldest.IsZero() || ev.CreatedAt.Before(oldest)) {
			oldest = ev.CreatedAt
		}
	}
	return unnumbered, unpublished, oldest, nil
}
