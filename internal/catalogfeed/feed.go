package catalogfeed

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"entgo.io/ent/dialect"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/catalogchange"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/telemetry"
)

// Change is one committed catalog change.
type Change struct {
	// ID orders changes: a later commit of the same row has a larger id, but ids are
	// allocated at insert, so a smaller id may commit after a larger one (see Feed).
	ID int
	// Entity is the kind of data (Product, Variant, Merchant, …) and EntityID its row
	// (0 when the change is not about one row, such as "exchange rates changed").
	Entity   string
	EntityID int
	At       time.Time
}

// Defaults of a Feed.
const (
	DefaultInterval   = 200 * time.Millisecond
	DefaultBatch      = 500
	DefaultGapTimeout = time.Minute
	// DefaultChannel is the Redis pub/sub channel on which replicas announce commits.
	DefaultChannel = "xiadan:catalog:changed"
	// maxGaps bounds the ids the feed waits for (see addGaps).
	maxGaps = 10000
)

// Feed reads committed catalog changes in id order and hands them to its subscribers.
//
// MySQL allocates an auto-increment id when a row is inserted, not when it commits: a
// transaction that inserted id 7 may commit after one that inserted id 8. A reader that
// only asked for "id > last seen" would skip 7 for ever. The feed therefore remembers the
// ids below its highest one that it has not seen (gaps) and asks for them again on each
// poll until they appear, or until GapTimeout passes (a rolled-back insert never fills
// its id; a change committed later than that is missed, and counted in the log).
type Feed struct {
	DB     *ent.Client
	Logger *slog.Logger
	// Redis, when set, carries announcements between replicas on Channel, so every
	// replica polls as soon as any of them commits a change.
	Redis   *redis.Client
	Channel string
	// Interval is the longest time between two polls; Batch the most rows per query;
	// GapTimeout how long a missing id is waited for.
	Interval   time.Duration
	Batch      int
	GapTimeout time.Duration
	// Dialect is the database's: a type's first id is its range's start on MySQL and
	// start+1 on SQLite (empty: MySQL's).
	Dialect string

	nudge    chan struct{}
	announce chan struct{}
	running  atomic.Bool

	mu      sync.Mutex
	subs    []func([]Change)
	gen     string
	changed chan struct{}

	// The reader's state, under pollMu.
	pollMu  sync.Mutex
	started bool
	floor   int               // every id up to floor was delivered or given up on
	max     int               // the highest id seen
	seen    map[int]bool      // ids above floor delivered (only while gaps exist)
	gaps    map[int]time.Time // ids in (floor, max] not seen yet, and since when
}

// New returns a feed reading db's catalog changes, with Redis announcements when rdb is
// not nil.
func New(db *ent.Client, rdb *redis.Client, logger *slog.Logger) *Feed {
	return &Feed{DB: db, Logger: logger, Redis: rdb, Channel: DefaultChannel,
		Interval: DefaultInterval, Batch: DefaultBatch, GapTimeout: DefaultGapTimeout,
		nudge: make(chan struct{}, 1), announce: make(chan struct{}, 1),
		changed: make(chan struct{}), seen: map[int]bool{}, gaps: map[int]time.Time{}}
}

// Subscribe adds fn to the functions called with each batch of new changes, in id order
// within a batch (a late-committing change comes in a later batch, with a smaller id
// than changes already delivered). fn runs on the feed's goroutine: it must be quick and
// must not call the feed. Only changes committed after the feed started are delivered;
// a subscriber that must catch up on older ones reads the catalog itself first.
func (f *Feed) Subscribe(fn func([]Change)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, fn)
}

// Generation names the set of changes this feed has delivered: it differs whenever one
// more change was delivered, and two replicas that delivered the same changes have the
// same generation, so it can key a cache shared between replicas. It is "" before the
// first poll and after a failed one: nothing may be cached then.
func (f *Feed) Generation() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gen
}

// Changed returns a channel closed at the next delivery (or generation change).
func (f *Feed) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// Nudge makes the feed poll now rather than at its next tick. It never blocks.
func (f *Feed) Nudge() {
	select {
	case f.nudge <- struct{}{}:
	default:
	}
}

// Announce tells this replica's feed, and with Redis every replica's, that changes were
// committed. It never blocks; announcements made in a burst are sent once.
func (f *Feed) Announce() {
	f.Nudge()
	select {
	case f.announce <- struct{}{}:
	default:
	}
}

// committed runs after a local commit that recorded changes: the other replicas are
// told, and this replica's feed reads the changes before the committing request answers,
// so whoever made a change sees it in their next request to this replica (the others
// within a poll).
func (f *Feed) committed(ctx context.Context) {
	f.Announce()
	if !f.running.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if _, err := f.Poll(ctx); err != nil {
		// Run polls again within Interval.
		f.Logger.Warn("catalog feed: reading after a commit", "err", err)
	}
}

// Run polls until ctx ends. Start it once per process.
func (f *Feed) Run(ctx context.Context) {
	f.running.Store(true)
	defer f.running.Store(false)
	if f.Redis != nil {
		go f.listen(ctx)
		go f.publish(ctx)
	}
	t := time.NewTicker(f.Interval)
	defer t.Stop()
	for {
		for {
			full, err := f.Poll(ctx)
			if err != nil {
				// Until a poll succeeds again the feed cannot say what is current: an
				// empty generation tells the cache to step aside.
				f.mu.Lock()
				f.gen = ""
				f.mu.Unlock()
				if ctx.Err() == nil {
					f.Logger.Error("catalog feed: polling", "err", err)
				}
				break
			}
			if !full {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.nudge:
		}
	}
}

// listen turns the other replicas' announcements into nudges.
func (f *Feed) listen(ctx context.Context) {
	sub := f.Redis.Subscribe(ctx, f.Channel)
	defer sub.Close()
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
			f.Nudge()
		}
	}
}

// publish sends this replica's announcements to the others.
func (f *Feed) publish(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.announce:
			if err := f.Redis.Publish(ctx, f.Channel, "1").Err(); err != nil && ctx.Err() == nil {
				// The other replicas still poll every Interval.
				f.Logger.Warn("catalog feed: announcing on Redis", "err", err)
			}
		}
	}
}

// Poll reads new changes once, delivers them, and reports whether a batch came back
// full (more may be waiting).
func (f *Feed) Poll(ctx context.Context) (full bool, err error) {
	f.pollMu.Lock()
	defer f.pollMu.Unlock()
	ctx = privacy.DecisionContext(ctx, privacy.Allow)
	if !f.started {
		if err := f.start(ctx); err != nil {
			return false, err
		}
		f.started = true
	}
	now := time.Now()
	rows, err := f.DB.CatalogChange.Query().Where(catalogchange.IDGT(f.max)).
		Order(ent.Asc(catalogchange.FieldID)).Limit(f.Batch).All(ctx)
	if err != nil {
		return false, err
	}
	full = len(rows) == f.Batch
	var out []Change
	for _, r := range rows {
		f.addGaps(f.max, r.ID, now)
		f.max = r.ID
		f.seen[r.ID] = true
		out = append(out, changeOf(r))
	}
	if len(f.gaps) > 0 {
		filled, err := f.fill(ctx)
		if err != nil {
			return false, err
		}
		out = append(out, filled...)
	}
	for id, since := range f.gaps {
		if now.Sub(since) > f.GapTimeout {
			delete(f.gaps, id)
			f.Logger.Info("catalog feed: gave up waiting for a change id (rolled back, or committed too late)", "id", id)
		}
	}
	f.advance()
	slices.SortFunc(out, func(a, b Change) int { return a.ID - b.ID })
	f.deliver(out)
	return full, nil
}

// start begins after the changes already committed, remembering the ids missing among
// the latest of them (transactions still running may fill them).
func (f *Feed) start(ctx context.Context) error {
	ids, err := f.DB.CatalogChange.Query().Order(ent.Desc(catalogchange.FieldID)).Limit(f.Batch).IDs(ctx)
	if err != nil || len(ids) == 0 {
		return err
	}
	now := time.Now()
	f.max, f.floor = ids[0], ids[len(ids)-1]
	for i, id := range ids {
		f.seen[id] = true
		if i > 0 {
			f.addGaps(id, ids[i-1], now) // ids are in descending order
		}
	}
	f.advance()
	return nil
}

// addGaps remembers the ids strictly between two seen ones; below is 0 when the feed
// has seen none (it started on an empty table): the ids from the first of above's range
// are then awaited (Ent's global ids give each type a range of 1<<32 ids, the first
// being the range's start on MySQL and start+1 on SQLite; without them ids start at 1).
// Across a jump of more than maxGaps (a large insert rolled back) nothing is waited for.
func (f *Feed) addGaps(below, above int, now time.Time) {
	if below == 0 {
		first := above >> 32 << 32
		if f.Dialect == dialect.SQLite {
			first++
		}
		below = max(first-1, 0)
	}
	if above-below-1 > maxGaps || len(f.gaps) >= maxGaps {
		return
	}
	for id := below + 1; id < above; id++ {
		f.gaps[id] = now
	}
}

// fill reads the changes that have appeared in the gaps.
func (f *Feed) fill(ctx context.Context) ([]Change, error) {
	ids := make([]int, 0, len(f.gaps))
	for id := range f.gaps {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []Change
	for chunk := range slices.Chunk(ids, 500) {
		rows, err := f.DB.CatalogChange.Query().Where(catalogchange.IDIn(chunk...)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			delete(f.gaps, r.ID)
			f.seen[r.ID] = true
			out = append(out, changeOf(r))
		}
	}
	return out, nil
}

// advance moves floor up to the first gap and forgets the seen ids below it.
func (f *Feed) advance() {
	f.floor = f.max
	for id := range f.gaps {
		if id-1 < f.floor {
			f.floor = id - 1
		}
	}
	for id := range f.seen {
		if id <= f.floor {
			delete(f.seen, id)
		}
	}
}

// generation names the delivered set: everything up to floor, and the ids seen above it.
func (f *Feed) generation() string {
	g := strconv.Itoa(f.floor)
	if len(f.seen) == 0 {
		return g
	}
	ids := make([]int, 0, len(f.seen))
	for id := range f.seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	h := sha256.New()
	var b [8]byte
	for _, id := range ids {
		binary.BigEndian.PutUint64(b[:], uint64(id))
		h.Write(b[:])
	}
	return g + "." + hex.EncodeToString(h.Sum(nil)[:8])
}

// deliver moves the generation on and calls the subscribers.
func (f *Feed) deliver(out []Change) {
	gen := f.generation()
	f.mu.Lock()
	if len(out) == 0 && gen == f.gen {
		f.mu.Unlock()
		return
	}
	f.gen = gen
	close(f.changed)
	f.changed = make(chan struct{})
	subs := slices.Clone(f.subs)
	f.mu.Unlock()
	if len(out) == 0 {
		return
	}
	for _, fn := range subs {
		fn(out)
	}
}

func changeOf(r *ent.CatalogChange) Change {
	return Change{ID: r.ID, Entity: r.Entity, EntityID: r.EntityID, At: r.CreatedAt}
}

// Prune deletes the changes recorded before cutoff, in batches, and returns how many.
func Prune(ctx context.Context, db *ent.Client, cutoff time.Time) (int, error) {
	ctx = privacy.DecisionContext(ctx, privacy.Allow)
	total := 0
	for {
		ids, err := db.CatalogChange.Query().Where(catalogchange.CreatedAtLT(cutoff)).
			Order(ent.Asc(catalogchange.FieldID)).Limit(1000).IDs(ctx)
		if err != nil || len(ids) == 0 {
			return total, err
		}
		n, err := db.CatalogChange.Delete().Where(catalogchange.IDIn(ids...)).Exec(ctx)
		total += n
		if err != nil || len(ids) < 1000 {
			return total, err
		}
	}
}

// DefaultRetention is how long change rows are kept: far longer than any gap is waited
// for, and long enough for a search syncer that was down a while to catch up.
const DefaultRetention = 24 * time.Hour

// RunPrune deletes changes older than retention every interval until ctx ends. Every
// replica may run it: deleting the same old rows twice is harmless.
func RunPrune(ctx context.Context, db *ent.Client, interval, retention time.Duration, logger *slog.Logger) {
	if retention <= 0 {
		retention = DefaultRetention
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := Prune(ctx, db, time.Now().Add(-retention))
		telemetry.RecordJob(ctx, "catalog_prune", err)
		if err != nil && ctx.Err() == nil {
			logger.Error("catalog feed: pruning", "err", err)
		} else if n > 0 {
			logger.Debug("catalog feed: pruned", "rows", n)
		}
	}
}
