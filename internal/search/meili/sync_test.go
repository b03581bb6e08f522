package meili

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCatalog is the catalog the application would read from its database.
type fakeCatalog struct {
	mu        sync.Mutex
	changes   []Change
	visible   map[int]bool // product id → visible; missing: deleted
	variants  map[int]int  // variant → product
	merchants map[int][]int
	expired   bool
	loads     []string // "locale:ids" of each Load
}

func newCatalog() *fakeCatalog {
	return &fakeCatalog{
		visible:   map[int]bool{5: true, 6: true, 7: false},
		variants:  map[int]int{90: 6},
		merchants: map[int][]int{2: {5, 7}},
	}
}

func (f *fakeCatalog) add(cs ...Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, cs...)
	sort.Slice(f.changes, func(i, j int) bool { return f.changes[i].ID < f.changes[j].ID })
}

func (f *fakeCatalog) Changes(_ context.Context, after int64, limit int) ([]Change, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.expired {
		return nil, fmt.Errorf("changes after %d: %w", after, ErrFeedExpired)
	}
	var out []Change
	for _, c := range f.changes {
		if c.ID > after && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeCatalog) Head(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.changes) == 0 {
		return 0, nil
	}
	return f.changes[len(f.changes)-1].ID, nil
}

func (f *fakeCatalog) Products(_ context.Context, cs []Change) ([]int, error) {
	var ids []int
	for _, c := range cs {
		switch c.Entity {
		case EntityProduct:
			ids = append(ids, c.EntityID)
		case EntityVariant:
			ids = append(ids, f.variants[c.EntityID])
		case EntityMerchant:
			ids = append(ids, f.merchants[c.EntityID]...)
		}
	}
	return ids, nil
}

func (f *fakeCatalog) ProductIDs(_ context.Context, after, limit int) ([]int, error) {
	var ids []int
	for id := range f.visible {
		if id > after {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	return ids[:min(limit, len(ids))], nil
}

func (f *fakeCatalog) Load(_ context.Context, locale string, ids []int) ([]Document, []int, error) {
	f.mu.Lock()
	f.loads = append(f.loads, fmt.Sprint(locale, ":", ids))
	f.mu.Unlock()
	var docs []Document
	var hidden []int
	for _, id := range ids {
		if f.visible[id] {
			docs = append(docs, Document{ID: id, Title: fmt.Sprintf("p%d %s", id, locale), CategoryIDs: []int{1},
				MerchantID: 2, MinPrice: int64(id) * 1000, MaxPrice: int64(id) * 1000, Currency: "CNY"})
		} else {
			hidden = append(hidden, id)
		}
	}
	return docs, hidden, nil
}

// memCursor is a cursor store in memory; onSet runs after each save.
type memCursor struct {
	mu     sync.Mutex
	cursor int64
	ok     bool
	saves  []int64
	onSet  func()
}

func (m *memCursor) Cursor(context.Context) (int64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cursor, m.ok, nil
}

func (m *memCursor) SetCursor(_ context.Context, c int64) error {
	m.mu.Lock()
	m.cursor, m.ok, m.saves = c, true, append(m.saves, c)
	onSet := m.onSet
	m.mu.Unlock()
	if onSet != nil {
		onSet()
	}
	return nil
}

// doc is the JSON of the fake catalog's document of product id in locale, as pushed.
func doc(id int, locale string) string {
	band := "0-5000"
	if id >= 5 {
		band = "5000-10000"
	}
	return fmt.Sprintf(`{"id":%d,"title":"p%d %s","category_ids":[1],"merchant_id":2,"min_price":%d,"max_price":%d,`+
		`"currency":"CNY","in_stock":false,"sales":0,"rating":0,"created_at":0,"listed":true,"price_band":"%s"}`,
		id, id, locale, id*1000, id*1000, band)
}

func docs(locale string, ids ...int) string {
	var parts []string
	for _, id := range ids {
		parts = append(parts, doc(id, locale))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

const addDocs, delDocs = "documentAdditionOrUpdate", "documentDeletion"

// A product change, a variant change (its product) and a merchant change (its products)
// each write the products' current documents, delete the hidden one, and move the
// cursor only after Meilisearch reports the writes done.
func TestSyncAppliesChangesThenMovesCursor(t *testing.T) {
	cat := newCatalog()
	cat.add(Change{1, EntityProduct, 5}, Change{2, EntityVariant, 90}, Change{3, EntityMerchant, 2})
	r := newReplay(t,
		write("POST", "/indexes/products_en/documents?primaryKey=id", docs("en", 5, 6), 10, "products_en", addDocs),
		tasks("10", 1, task(10, "products_en", addDocs, "processing", "")),
		tasks("10", 1, task(10, "products_en", addDocs, "succeeded", "")),
		write("POST", "/indexes/products_en/documents?primaryKey=id", docs("en", 5), 11, "products_en", addDocs),
		write("POST", "/indexes/products_en/documents/delete-batch", `[7]`, 12, "products_en", delDocs),
		tasks("11,12", 2, task(11, "products_en", addDocs, "succeeded", ""), task(12, "products_en", delDocs, "succeeded", "")),
	)
	cur := &memCursor{ok: true}
	s := &Syncer{Client: r.client(), Catalog: cat, Cursor: cur}
	more, err := s.Step(context.Background())
	if err != nil || !more {
		t.Fatalf("first step: more %v, err %v", more, err)
	}
	more, err = s.Step(context.Background())
	if err != nil || more {
		t.Fatalf("second step: more %v, err %v", more, err)
	}
	if !reflect.DeepEqual(cur.saves, []int64{2, 3}) {
		t.Fatalf("cursor saves %v, want [2 3]", cur.saves)
	}
	// Caught up: a step reads nothing, writes nothing and saves nothing.
	if more, err := s.Step(context.Background()); err != nil || more || len(cur.saves) != 2 {
		t.Fatalf("idle step: more %v, err %v, saves %v", more, err, cur.saves)
	}
	r.done()
}

// A write that fails — a failed task, a server that is down — leaves the cursor where it
// was; a syncer started afresh (after a crash) repeats the same writes and then moves on.
func TestSyncFailureKeepsCursorAndResumes(t *testing.T) {
	cat := newCatalog()
	cat.add(Change{1, EntityProduct, 5}, Change{2, EntityProduct, 7})
	failed := apiError("internal", "internal", "An internal error has occurred.")
	r := newReplay(t,
		// 1: the document task fails.
		write("POST", "/indexes/products_en/documents?primaryKey=id", docs("en", 5), 20, "products_en", addDocs),
		write("POST", "/indexes/products_en/documents/delete-batch", `[7]`, 21, "products_en", delDocs),
		tasks("20,21", 2, task(20, "products_en", addDocs, "failed", failed), task(21, "products_en", delDocs, "succeeded", "")),
		// 2: the server answers 503 (restarting).
		exchange{Method: "POST", Path: "/indexes/products_en/documents?primaryKey=id", Status: 503,
			Reply: apiError("internal", "internal", "Meilisearch is restarting")},
		// 3: after a crash, a new syncer repeats the step and succeeds.
		write("POST", "/indexes/products_en/documents?primaryKey=id", docs("en", 5), 22, "products_en", addDocs),
		write("POST", "/indexes/products_en/documents/delete-batch", `[7]`, 23, "products_en", delDocs),
		tasks("22,23", 2, task(22, "products_en", addDocs, "succeeded", ""), task(23, "products_en", delDocs, "succeeded", "")),
	)
	c := r.client()
	cur := &memCursor{ok: true}
	s := &Syncer{Client: c, Catalog: cat, Cursor: cur}
	if _, err := s.Step(context.Background()); err == nil || !strings.Contains(err.Error(), "task 20") {
		t.Fatalf("failed task: err = %v", err)
	}
	if _, err := s.Step(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("503: err = %v, want ErrUnavailable", err)
	}
	if len(cur.saves) != 0 {
		t.Fatalf("cursor saved after failures: %v", cur.saves)
	}
	s = &Syncer{Client: c, Catalog: cat, Cursor: cur}
	if _, err := s.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cur.saves, []int64{2}) {
		t.Fatalf("cursor saves %v, want [2]", cur.saves)
	}
	r.done()
}

// A change ID missing below newer ones (a transaction that took its ID first but commits
// later) holds the cursor until the change arrives, or until GapWait says it was rolled
// back. Changes past the gap are applied once, not at every wait.
func TestSyncWaitsForLateCommits(t *testing.T) {
	cat := newCatalog()
	cat.add(Change{1, EntityProduct, 5}, Change{3, EntityProduct, 6})
	r := newReplay(t,
		write("POST", "/indexes/products_en/documents?primaryKey=id", docs("en", 5, 6), 30, "products_en", addDocs),
		tasks("30", 1, task(30, "products_en", addDocs, "succeeded", "")),
	)
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	cur := &memCursor{ok: true}
	s := &Syncer{Client: r.client(), Catalog: cat, Cursor: cur, GapWait: 10 * time.Second, now: func() time.Time { return now }}
	ctx := context.Background()
	if _, err := s.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if cur.cursor != 1 {
		t.Fatalf("cursor %d, want 1 (held below the gap at 2)", cur.cursor)
	}
	// Still waiting: change 3 is not written again.
	now = now.Add(5 * time.Second)
	if _, err := s.Step(ctx); err != nil || cur.cursor != 1 {
		t.Fatalf("cursor %d, err %v", cur.cursor, err)
	}
	// Change 2 commits: only it is applied, and the cursor passes 3.
	cat.add(Change{2, EntityVariant, 90})
	r.then(
		write("POST", "/indexes/products_en/documents?primaryKey=id", docs("en", 6), 31, "products_en", addDocs),
		tasks("31", 1, task(31, "products_en", addDocs, "succeeded", "")),
	)
	if _, err := s.Step(ctx); err != nil || cur.cursor != 3 {
		t.Fatalf("cursor %d, err %v", cur.cursor, err)
	}
	// A gap that never fills (a rollback) is passed once GapWait has gone by.
	cat.add(Change{5, EntityProduct, 5})
	r.then(
		write("POST", "/indexes/products_en/documents?primaryKey=id", docs("en", 5), 32, "products_en", addDocs),
		tasks("32", 1, task(32, "products_en", addDocs, "succeeded", "")),
	)
	if _, err := s.Step(ctx); err != nil || cur.cursor != 3 {
		t.Fatalf("cursor %d, err %v", cur.cursor, err)
	}
	now = now.Add(10 * time.Second)
	if _, err := s.Step(ctx); err != nil || cur.cursor != 5 {
		t.Fatalf("cursor %d, err %v, want 5 after GapWait", cur.cursor, err)
	}
	r.done()
}

// reindexScript is the recorded conversation of a full rebuild of products_en holding
// products 5 and 6 and the hidden 7 (SyncBatch 2: pages [5 6] and [7]), from task uid.
func reindexScript(uid int) []exchange {
	live, tmp := "products_en", "products_en_reindex"
	return []exchange{
		{Method: "DELETE", Path: "/indexes/" + tmp, Status: 404, Reply: apiError("index_not_found", "invalid_request", "Index `products_en_reindex` not found.")},
		write("POST", "/indexes", `{"uid":"`+live+`","primaryKey":"id"}`, uid, live, "indexCreation"),
		write("PATCH", "/indexes/"+live+"/settings", "", uid+1, live, "settingsUpdate"),
		tasks(itoa(uid)+","+itoa(uid+1), 2, task(uid, live, "indexCreation", "failed", strings.ReplaceAll(alreadyExists, "zh-CN", "en")),
			task(uid+1, live, "settingsUpdate", "succeeded", "")),
		write("POST", "/indexes", `{"uid":"`+tmp+`","primaryKey":"id"}`, uid+2, tmp, "indexCreation"),
		write("PATCH", "/indexes/"+tmp+"/settings", "", uid+3, tmp, "settingsUpdate"),
		tasks(itoa(uid+2)+","+itoa(uid+3), 2, task(uid+2, tmp, "indexCreation", "succeeded", ""), task(uid+3, tmp, "settingsUpdate", "succeeded", "")),
		write("POST", "/indexes/"+tmp+"/documents?primaryKey=id", docs("en", 5, 6), uid+4, tmp, addDocs),
		tasks(itoa(uid+4), 1, task(uid+4, tmp, addDocs, "succeeded", "")),
		write("POST", "/swap-indexes", `[{"indexes":["`+live+`","`+tmp+`"]}]`, uid+5, "", "indexSwap"),
		tasks(itoa(uid+5), 1, strings.Replace(task(uid+5, "", "indexSwap", "succeeded", ""), `"indexUid":""`, `"indexUid":null`, 1)),
		write("DELETE", "/indexes/"+tmp, "", uid+6, tmp, "indexDeletion"),
		tasks(itoa(uid+6), 1, task(uid+6, tmp, "indexDeletion", "succeeded", "")),
	}
}

// A full rebuild fills a fresh index, swaps it with the live one, drops the old one and
// saves as cursor the feed's head read before loading, so no change is skipped.
func TestReindexSwapsAndSavesHead(t *testing.T) {
	cat := newCatalog()
	cat.add(Change{1, EntityProduct, 5}, Change{8, EntityProduct, 6})
	r := newReplay(t, reindexScript(40)...)
	cur := &memCursor{}
	s := &Syncer{Client: r.client(), Catalog: cat, Cursor: cur}
	if err := s.Reindex(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cur.saves, []int64{8}) {
		t.Fatalf("cursor saves %v, want [8]", cur.saves)
	}
	if !reflect.DeepEqual(cat.loads, []string{"en:[5 6]", "en:[7]"}) {
		t.Fatalf("loads %v", cat.loads)
	}
	r.done()
}

// When the feed no longer holds the changes after the cursor, the step rebuilds.
func TestSyncRebuildsWhenFeedExpired(t *testing.T) {
	cat := newCatalog()
	cat.add(Change{100, EntityProduct, 5})
	cat.expired = true
	r := newReplay(t, reindexScript(50)...)
	cur := &memCursor{cursor: 3, ok: true}
	s := &Syncer{Client: r.client(), Catalog: cat, Cursor: cur}
	if more, err := s.Step(context.Background()); err != nil || !more {
		t.Fatalf("more %v, err %v", more, err)
	}
	if cur.cursor != 100 {
		t.Fatalf("cursor %d, want 100", cur.cursor)
	}
	r.done()
}

// Start pushes the settings; without a cursor it rebuilds everything, with one it
// rebuilds only an empty index and leaves the cursor, then Run applies changes until
// its context ends.
func TestStartAndRun(t *testing.T) {
	settings := []exchange{
		write("POST", "/indexes", `{"uid":"products_en","primaryKey":"id"}`, 1, "products_en", "indexCreation"),
		write("PATCH", "/indexes/products_en/settings", "", 2, "products_en", "settingsUpdate"),
		tasks("1,2", 2, task(1, "products_en", "indexCreation", "succeeded", ""), task(2, "products_en", "settingsUpdate", "succeeded", "")),
	}
	t.Run("no cursor", func(t *testing.T) {
		cat := newCatalog()
		cat.add(Change{4, EntityProduct, 5})
		r := newReplay(t, append(settings, reindexScript(60)...)...)
		cur := &memCursor{}
		if err := (&Syncer{Client: r.client(), Catalog: cat, Cursor: cur}).Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if cur.cursor != 4 || !cur.ok {
			t.Fatalf("cursor %d", cur.cursor)
		}
		r.done()
	})
	t.Run("empty index", func(t *testing.T) {
		cat := newCatalog()
		r := newReplay(t, append(append(settings,
			exchange{Method: "GET", Path: "/indexes/products_en/stats", Status: 200,
				Reply: `{"numberOfDocuments":0,"rawDocumentDbSize":0,"avgDocumentSize":0,"isIndexing":false,"numberOfEmbeddings":0,"numberOfEmbeddedDocuments":0,"fieldDistribution":{}}`}),
			reindexScript(70)...)...)
		cur := &memCursor{cursor: 3, ok: true}
		if err := (&Syncer{Client: r.client(), Catalog: cat, Cursor: cur}).Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(cur.saves) != 0 {
			t.Fatalf("cursor saved %v; the changes after 3 must still be applied", cur.saves)
		}
		r.done()
	})
	t.Run("run", func(t *testing.T) {
		cat := newCatalog()
		cat.add(Change{4, EntityProduct, 6})
		r := newReplay(t, append(settings,
			exchange{Method: "GET", Path: "/indexes/products_en/stats", Status: 200,
				Reply: `{"numberOfDocuments":2,"rawDocumentDbSize":8192,"avgDocumentSize":300,"isIndexing":false,"numberOfEmbeddings":0,"numberOfEmbeddedDocuments":0,"fieldDistribution":{"id":2,"title":2}}`},
			write("POST", "/indexes/products_en/documents?primaryKey=id", docs("en", 6), 3, "products_en", addDocs),
			tasks("3", 1, task(3, "products_en", addDocs, "succeeded", "")),
		)...)
		ctx, cancel := context.WithCancel(context.Background())
		cur := &memCursor{cursor: 3, ok: true, onSet: cancel}
		err := (&Syncer{Client: r.client(), Catalog: cat, Cursor: cur}).Run(ctx)
		if !errors.Is(err, context.Canceled) || cur.cursor != 4 {
			t.Fatalf("Run: err %v, cursor %d", err, cur.cursor)
		}
		r.done()
	})
}

// The cursor kept on the server: missing at first (no index, then no document), then
// what was saved.
func TestIndexCursor(t *testing.T) {
	r := newReplay(t,
		exchange{Method: "GET", Path: "/indexes/products_sync/documents/cursor", Status: 404,
			Reply: apiError("index_not_found", "invalid_request", "Index `products_sync` not found.")},
		exchange{Method: "GET", Path: "/indexes/products_sync/documents/cursor", Status: 404,
			Reply: apiError("document_not_found", "invalid_request", "Document `cursor` not found.")},
		write("POST", "/indexes/products_sync/documents?primaryKey=id", `[{"id":"cursor","cursor":42}]`, 80, "products_sync", addDocs),
		tasks("80", 1, task(80, "products_sync", addDocs, "succeeded", "")),
		exchange{Method: "GET", Path: "/indexes/products_sync/documents/cursor", Status: 200, Reply: `{"id":"cursor","cursor":42}`},
		exchange{Method: "GET", Path: "/indexes/products_sync/documents/cursor", Status: 503, Reply: `upstream unavailable`},
	)
	store := IndexCursor{Client: r.client()}
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if c, ok, err := store.Cursor(ctx); c != 0 || ok || err != nil {
			t.Fatalf("missing cursor: %d %v %v", c, ok, err)
		}
	}
	if err := store.SetCursor(ctx, 42); err != nil {
		t.Fatal(err)
	}
	if c, ok, err := store.Cursor(ctx); c != 42 || !ok || err != nil {
		t.Fatalf("cursor: %d %v %v", c, ok, err)
	}
	// A server that cannot answer is not "no cursor" (which would rebuild everything).
	if _, _, err := store.Cursor(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	r.done()
}

// A task that never finishes fails the wait after TaskTimeout instead of hanging the
// syncer; the cursor stays.
func TestWaitGivesUp(t *testing.T) {
	cat := newCatalog()
	cat.add(Change{1, EntityProduct, 5})
	r := newReplay(t,
		write("POST", "/indexes/products_en/documents?primaryKey=id", docs("en", 5), 90, "products_en", addDocs),
		tasks("90", 1, task(90, "products_en", addDocs, "enqueued", "")),
	)
	c := r.client()
	c.cfg.TaskTimeout = -time.Second // already past after the first poll
	cur := &memCursor{ok: true}
	if _, err := (&Syncer{Client: c, Catalog: cat, Cursor: cur}).Step(context.Background()); !errors.Is(err, ErrUnavailable) ||
		!strings.Contains(err.Error(), "not finished") {
		t.Fatalf("err = %v", err)
	}
	if len(cur.saves) != 0 {
		t.Fatalf("cursor saved %v", cur.saves)
	}
	r.done()
}

// A gap does not delay what comes after it: with the batch after the cursor all applied
// already, the step reads on and applies the new changes past it.
func TestSyncReadsPastAnOpenGap(t *testing.T) {
	cat := newCatalog()
	cat.add(Change{1, EntityProduct, 5}, Change{3, EntityProduct, 6}, Change{4, EntityProduct, 6})
	r := newReplay(t,
		write("POST", "/indexes/products_en/documents?primaryKey=id", docs("en", 5, 6), 100, "products_en", addDocs),
		tasks("100", 1, task(100, "products_en", addDocs, "succeeded", "")),
		write("POST", "/indexes/products_en/documents?primaryKey=id", docs("en", 6), 101, "products_en", addDocs),
		tasks("101", 1, task(101, "products_en", addDocs, "succeeded", "")),
	)
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	cur := &memCursor{ok: true}
	s := &Syncer{Client: r.client(), Catalog: cat, Cursor: cur, now: func() time.Time { return now }}
	ctx := context.Background()
	// SyncBatch is 2: the steps read [1 3] (cursor 1, the gap at 2 holds it), then [3 4]
	// of which only 4 is new.
	for i := 0; i < 2; i++ {
		if _, err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cat.add(Change{6, EntityProduct, 5}, Change{7, EntityVariant, 90})
	r.then(
		write("POST", "/indexes/products_en/documents?primaryKey=id", docs("en", 5, 6), 102, "products_en", addDocs),
		tasks("102", 1, task(102, "products_en", addDocs, "succeeded", "")),
	)
	// [3 4] are both applied: the step reads on to [6 7] instead of waiting for 2.
	if _, err := s.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if cur.cursor != 1 {
		t.Fatalf("cursor %d, want 1 (2 is missing)", cur.cursor)
	}
	r.done()
}
