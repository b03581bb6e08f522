package meili

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"
)

// Change is one row of the catalog change outbox: entity (product, variant, merchant or
// category) entity_id changed in the transaction that wrote the row.
type Change struct {
	ID       int64
	Entity   string
	EntityID int
}

// The entities of the change outbox.
const (
	EntityProduct  = "product"
	EntityVariant  = "variant"
	EntityMerchant = "merchant"
	EntityCategory = "category"
)

// ErrFeedExpired is what Catalog.Changes returns (wrapped) when after is older than the
// oldest change the outbox still keeps: changes were lost to retention, so the syncer
// rebuilds every index instead.
var ErrFeedExpired = errors.New("the change feed no longer holds changes after the cursor")

// Catalog is what the syncer reads from the database. The application implements it on
// the change outbox and the product tables.
type Catalog interface {
	// Changes returns up to limit changes with ID > after, in ID order.
	Changes(ctx context.Context, after int64, limit int) ([]Change, error)
	// Head returns the ID of the newest change (0 when there is none).
	Head(ctx context.Context) (int64, error)
	// Products returns the ids of the products that changes may have changed: a
	// product's own id, a variant's product, every product of a merchant, every product
	// in a category or below it. Visible or not: Load sorts them out.
	Products(ctx context.Context, changes []Change) ([]int, error)
	// ProductIDs returns up to limit product ids greater than after, in id order (a
	// full reindex pages through them).
	ProductIDs(ctx context.Context, after, limit int) ([]int, error)
	// Load returns, as of now, the documents in locale of the products among ids that
	// the public may see, and the ids of the others (deleted or hidden), whose documents
	// the syncer deletes.
	Load(ctx context.Context, locale string, ids []int) (docs []Document, hidden []int, err error)
}

// CursorStore keeps the ID of the last change applied to every index.
type CursorStore interface {
	// Cursor returns the saved cursor; ok is false when none was ever saved, and the
	// syncer then builds the indexes from scratch.
	Cursor(ctx context.Context) (cursor int64, ok bool, err error)
	// SetCursor saves the cursor.
	SetCursor(ctx context.Context, cursor int64) error
}

// Syncer applies catalog changes to every locale's index, in order, at least once.
//
// A step reads the changes after the cursor, finds the products they touch, loads those
// products as they are now and adds or replaces their documents (or deletes them when
// gone or hidden), waits until Meilisearch reports every write succeeded, and only then
// saves the new cursor. A crash or a failed write before that repeats the step, which
// writes the same current state again: writes are whole documents by id, so repeating
// them is harmless.
//
// A Syncer is used by one goroutine (Run, or Step and Reindex in turn); only Notify may
// be called from others.
type Syncer struct {
	Client  *Client
	Catalog Catalog
	Cursor  CursorStore
	// Synonyms returns the admins' synonyms, pushed with the settings (nil: none).
	Synonyms func(ctx context.Context) (map[string][]string, error)
	Log      *slog.Logger
	// GapWait is how long a missing change ID below newer ones holds the cursor back
	// (default 30s; negative: IDs are not expected to be consecutive). An outbox ID is
	// taken when its transaction writes the row, so a slow transaction can commit a lower
	// ID after a higher one was read; past GapWait the ID is taken for a rolled-back one,
	// so it should exceed the longest catalog transaction (REQUEST_TIMEOUT bounds those of
	// requests). The changes after a gap are applied without waiting for it.
	GapWait time.Duration

	now  func() time.Time
	wake chan struct{}
	// gaps remembers, for the current cursor, when each missing ID was first seen and
	// which later IDs were already applied, so that waiting does not repeat work.
	gapSeen map[int64]time.Time
	applied map[int64]bool
}

// Notify wakes a waiting Run, such as after this replica wrote a change; it never blocks.
func (s *Syncer) Notify() {
	s.init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Syncer) init() {
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.GapWait == 0 {
		s.GapWait = 30 * time.Second
	}
	if s.gapSeen == nil {
		s.gapSeen, s.applied = map[int64]time.Time{}, map[int64]bool{}
	}
}

func (s *Syncer) synonyms(ctx context.Context) (map[string][]string, error) {
	if s.Synonyms == nil {
		return nil, nil
	}
	return s.Synonyms(ctx)
}

// Start prepares the indexes: it pushes the settings, builds every index from scratch
// when there is no saved cursor (a first start, or a search server that lost its data
// along with the cursor kept in it), and builds any index that is empty.
func (s *Syncer) Start(ctx context.Context) error {
	s.init()
	syn, err := s.synonyms(ctx)
	if err != nil {
		return err
	}
	if err := s.Client.EnsureIndexes(ctx, syn); err != nil {
		return err
	}
	if _, ok, err := s.Cursor.Cursor(ctx); err != nil {
		return err
	} else if !ok {
		return s.Reindex(ctx)
	}
	// An index that is missing or empty (a locale added to SEARCH_LOCALES, an index
	// deleted by hand) is built now. The cursor stays: the changes after it are applied
	// to this index too by the next steps, which is harmless.
	for _, locale := range s.Client.cfg.Locales {
		n, err := s.Client.documentCount(ctx, s.Client.cfg.Index(locale))
		if err != nil {
			return err
		}
		if n == 0 {
			s.Log.Info("search sync: building an empty index", "index", s.Client.cfg.Index(locale))
			if err := s.reindexLocale(ctx, locale, syn); err != nil {
				return fmt.Errorf("reindexing %s: %w", locale, err)
			}
		}
	}
	return nil
}

// maxSyncPause bounds the pause between failed attempts: a failure that passes (a busy
// database, a search server restarting) costs the index at most this much lag once it
// has passed. A retry every 10 s is nothing to a server that is down.
const maxSyncPause = 10 * time.Second

// Run starts and then applies changes until ctx ends, waiting Config.SyncInterval (or a
// Notify) when caught up, and retrying after failures with a growing pause (logged, at
// most maxSyncPause).
// It returns ctx's error.
func (s *Syncer) Run(ctx context.Context) error {
	s.init()
	interval := s.Client.cfg.SyncInterval
	pause := interval
	started := false
	for {
		var more bool
		var err error
		if !started {
			if err = s.Start(ctx); err == nil {
				started = true
				more = true
			}
		} else {
			more, err = s.Step(ctx)
		}
		wait := interval
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			s.Log.Warn("search sync failed; retrying", "err", err, "retryIn", pause)
			wait, pause = pause, min(2*pause, maxSyncPause)
		case more:
			pause = interval
			continue
		default:
			pause = interval
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.wake:
		case <-time.After(wait):
		}
	}
}

// Step applies one batch of changes. more reports whether the feed may hold more right
// away (a full batch, or a reindex was run).
func (s *Syncer) Step(ctx context.Context) (more bool, err error) {
	s.init()
	cursor, ok, err := s.Cursor.Cursor(ctx)
	if err != nil {
		return false, err
	}
	if !ok {
		return true, s.Reindex(ctx)
	}
	limit := s.Client.cfg.SyncBatch
	var changes, batch []Change
	// While a gap holds the cursor, the changes after it were applied already: read on
	// past them, or a busy feed would wait for the gap before anything new is applied.
	for after := cursor; ; after = batch[len(batch)-1].ID {
		batch, err = s.Catalog.Changes(ctx, after, limit)
		if errors.Is(err, ErrFeedExpired) {
			s.Log.Warn("search sync: the change feed expired past the cursor; rebuilding every index", "cursor", cursor)
			return true, s.Reindex(ctx)
		}
		if err != nil {
			return false, err
		}
		changes = append(changes, batch...)
		if len(batch) < limit || !s.allApplied(batch) {
			break
		}
	}
	var fresh []Change
	for _, c := range changes {
		if !s.applied[c.ID] {
			fresh = append(fresh, c)
		}
	}
	if len(fresh) > 0 {
		ids, err := s.Catalog.Products(ctx, fresh)
		if err != nil {
			return false, err
		}
		if err := s.apply(ctx, ids); err != nil {
			return false, err
		}
	}
	next := s.advance(cursor, changes)
	if next != cursor {
		if err := s.Cursor.SetCursor(ctx, next); err != nil {
			return false, err
		}
	}
	return len(batch) == limit && (next != cursor || len(fresh) > 0), nil
}

func (s *Syncer) allApplied(changes []Change) bool {
	for _, c := range changes {
		if !s.applied[c.ID] {
			return false
		}
	}
	return true
}

// advance returns the new cursor after changes were applied: the last ID before the
// first gap still within GapWait. Applied IDs beyond it are remembered so that the next
// step does not apply them again.
func (s *Syncer) advance(cursor int64, changes []Change) int64 {
	next := cursor
	now := s.now()
	held := false
	for _, c := range changes {
		// One timer per gap, keyed by its first missing ID: a gap may be
		// thousands of IDs wide (MySQL reserves auto-increment ranges for bulk inserts).
		if !held && s.GapWait > 0 && c.ID > next+1 {
			first, seen := s.gapSeen[next+1]
			if !seen {
				s.gapSeen[next+1] = now
				first = now
			}
			held = now.Sub(first) < s.GapWait
		}
		if held {
			s.applied[c.ID] = true
			continue
		}
		next = c.ID
	}
	for id := range s.gapSeen {
		if id <= next {
			delete(s.gapSeen, id)
		}
	}
	for id := range s.applied {
		if id <= next {
			delete(s.applied, id)
		}
	}
	return next
}

// apply writes the current state of products ids to every locale's index and waits
// for the writes to succeed.
func (s *Syncer) apply(ctx context.Context, ids []int) error {
	ids = uniqueSorted(ids)
	batch := s.Client.cfg.SyncBatch
	for _, locale := range s.Client.cfg.Locales {
		uid := s.Client.cfg.Index(locale)
		var tasks []Task
		for start := 0; start < len(ids); start += batch {
			t, err := s.write(ctx, uid, locale, ids[start:min(start+batch, len(ids))])
			if err != nil {
				return err
			}
			tasks = append(tasks, t...)
		}
		if err := s.Client.wait(ctx, tasks...); err != nil {
			return err
		}
	}
	return nil
}

// write loads ids and enqueues their replacement and deletion in index uid.
func (s *Syncer) write(ctx context.Context, uid, locale string, ids []int) ([]Task, error) {
	docs, hidden, err := s.Catalog.Load(ctx, locale, ids)
	if err != nil {
		return nil, err
	}
	var tasks []Task
	if len(docs) > 0 {
		t, err := s.Client.putDocuments(ctx, uid, docs)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, t)
	}
	if len(hidden) > 0 {
		t, err := s.Client.deleteDocuments(ctx, uid, hidden)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, t)
	}
	return tasks, nil
}

// Reindex builds every locale's index from scratch without a moment of empty answers:
// it fills <index>_reindex with every visible product, swaps it with the live index
// (one atomic task), deletes the old one, and saves as cursor the feed's head as read
// before the first product was loaded, so changes made during the rebuild are applied
// again afterwards.
func (s *Syncer) Reindex(ctx context.Context) error {
	s.init()
	head, err := s.Catalog.Head(ctx)
	if err != nil {
		return err
	}
	syn, err := s.synonyms(ctx)
	if err != nil {
		return err
	}
	for _, locale := range s.Client.cfg.Locales {
		if err := s.reindexLocale(ctx, locale, syn); err != nil {
			return fmt.Errorf("reindexing %s: %w", locale, err)
		}
	}
	clear(s.gapSeen)
	clear(s.applied)
	return s.Cursor.SetCursor(ctx, head)
}

func (s *Syncer) reindexLocale(ctx context.Context, locale string, syn map[string][]string) error {
	c := s.Client
	live := c.cfg.Index(locale)
	tmp := live + "_reindex"
	// A rebuild that stopped half way left its index: start it again from nothing.
	if err := c.deleteIndex(ctx, tmp); err != nil {
		return err
	}
	if err := c.ensureIndex(ctx, live, locale, syn); err != nil {
		return err
	}
	if err := c.ensureIndex(ctx, tmp, locale, syn); err != nil {
		return err
	}
	batch := c.cfg.SyncBatch
	for after := 0; ; {
		ids, err := s.Catalog.ProductIDs(ctx, after, batch)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			break
		}
		docs, _, err := s.Catalog.Load(ctx, locale, ids)
		if err != nil {
			return err
		}
		if len(docs) > 0 {
			t, err := c.putDocuments(ctx, tmp, docs)
			if err != nil {
				return err
			}
			// Waiting for each batch keeps the server's queue (and memory) short.
			if err := c.wait(ctx, t); err != nil {
				return err
			}
		}
		after = ids[len(ids)-1]
		if len(ids) < batch {
			break
		}
	}
	var swap Task
	if err := c.do(ctx, http.MethodPost, "/swap-indexes", nil, []map[string][]string{{"indexes": {live, tmp}}}, &swap); err != nil {
		return err
	}
	if err := c.wait(ctx, swap); err != nil {
		return err
	}
	return c.deleteIndex(ctx, tmp)
}

// deleteIndex deletes index uid and waits; a missing index is no error.
func (c *Client) deleteIndex(ctx context.Context, uid string) error {
	var t Task
	err := c.do(ctx, http.MethodDelete, "/indexes/"+uid, nil, nil, &t)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Code == "index_not_found" {
		return nil
	}
	if err != nil {
		return err
	}
	return c.waitAllowing(ctx, []string{"index_not_found"}, t)
}

func uniqueSorted(ids []int) []int {
	out := append([]int(nil), ids...)
	sort.Ints(out)
	n := 0
	for i, id := range out {
		if i == 0 || id != out[n-1] {
			out[n] = id
			n++
		}
	}
	return out[:n]
}

// documentCount returns the number of documents in index uid (0 when it is missing).
func (c *Client) documentCount(ctx context.Context, uid string) (int, error) {
	var stats struct {
		NumberOfDocuments int `json:"numberOfDocuments"`
	}
	err := c.do(ctx, http.MethodGet, "/indexes/"+uid+"/stats", nil, nil, &stats)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Code == "index_not_found" {
		return 0, nil
	}
	return stats.NumberOfDocuments, err
}
