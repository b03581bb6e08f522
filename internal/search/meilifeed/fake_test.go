package meilifeed_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeMeili is a small in-memory Meilisearch: indexes of JSON documents keyed by id,
// tasks that have succeeded by the time anyone asks, and searches answered by the test.
// It speaks the shapes of Meilisearch's v1 API reference, as the recorded exchanges of
// internal/search/meili do (202 task summaries, GET /tasks lists, error objects), and
// keeps every write so a test can wait for the one it expects.
type fakeMeili struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	indexes  map[string]map[string]json.RawMessage // uid → id → document
	settings map[string]map[string]any             // uid → last settings pushed
	tasks    map[int64]task
	nextTask int64
	writes   []write // every document write and delete, in order
	searches []map[string]any
	searched []string // the index of each search
	// answer answers a search of an index (nil: an empty answer).
	answer  func(uid string, body map[string]any) any
	fail    *failure      // set: every search fails so
	changed chan struct{} // closed and replaced at every write
	recent  []string      // the last requests, for a failed wait's report
}

type task struct {
	UID      int64  `json:"uid"`
	IndexUID string `json:"indexUid"`
	Status   string `json:"status"`
	Type     string `json:"type"`
}

// failure is an error answer: status and Meilisearch's error code and type.
type failure struct {
	status     int
	code, kind string
}

// failSearch makes every later search fail with status and a Meilisearch error.
func (f *fakeMeili) failSearch(status int, code, kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = &failure{status: status, code: code, kind: kind}
}

// write is one POST of documents (Docs) or of ids to delete (Deleted) to an index.
type write struct {
	Index   string
	Docs    []map[string]any
	Deleted []int
}

func newFakeMeili(t testing.TB) *fakeMeili {
	f := &fakeMeili{t: t, indexes: map[string]map[string]json.RawMessage{}, settings: map[string]map[string]any{},
		tasks: map[int64]task{}, changed: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeMeili) URL() string { return f.srv.URL }

// enqueue records a succeeded task and answers its 202 summary. Call with mu held.
func (f *fakeMeili) enqueue(w http.ResponseWriter, uid, typ string) {
	f.nextTask++
	f.tasks[f.nextTask] = task{UID: f.nextTask, IndexUID: uid, Status: "succeeded", Type: typ}
	close(f.changed)
	f.changed = make(chan struct{})
	writeJSON(w, http.StatusAccepted, map[string]any{"taskUid": f.nextTask, "indexUid": uid,
		"status": "enqueued", "type": typ, "enqueuedAt": time.Now().UTC().Format(time.RFC3339Nano)})
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	apiErrorOf(w, status, code, "invalid_request", msg)
}

func apiErrorOf(w http.ResponseWriter, status int, code, kind, msg string) {
	writeJSON(w, status, map[string]string{"message": msg, "code": code, "type": kind,
		"link": "https://docs.meilisearch.com/errors#" + code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeMeili) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recent = append(f.recent, time.Now().Format("15:04:05.000")+" "+r.Method+" "+r.URL.RequestURI())
	if len(f.recent) > 30 {
		f.recent = f.recent[len(f.recent)-30:]
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var body any
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodDelete {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			apiError(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
	}
	notFound := func(uid string) {
		apiError(w, http.StatusNotFound, "index_not_found", fmt.Sprintf("Index `%s` not found.", uid))
	}
	switch {
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "tasks":
		var results []task
		for _, s := range strings.Split(r.URL.Query().Get("uids"), ",") {
			id, _ := strconv.ParseInt(s, 10, 64)
			if t, ok := f.tasks[id]; ok {
				results = append(results, t)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"results": results, "total": len(results), "limit": len(results), "from": nil, "next": nil})
	case r.Method == http.MethodPost && len(parts) == 1 && parts[0] == "indexes":
		uid := body.(map[string]any)["uid"].(string)
		if f.indexes[uid] == nil {
			f.indexes[uid] = map[string]json.RawMessage{}
		}
		f.enqueue(w, uid, "indexCreation")
	case r.Method == http.MethodPost && len(parts) == 1 && parts[0] == "swap-indexes":
		for _, pair := range body.([]any) {
			names := pair.(map[string]any)["indexes"].([]any)
			a, b := names[0].(string), names[1].(string)
			f.indexes[a], f.indexes[b] = f.indexes[b], f.indexes[a]
		}
		f.enqueue(w, "", "indexSwap")
	case len(parts) >= 2 && parts[0] == "indexes":
		uid := parts[1]
		idx := f.indexes[uid]
		rest := parts[2:]
		switch {
		case r.Method == http.MethodDelete && len(rest) == 0:
			if idx == nil {
				notFound(uid)
				return
			}
			delete(f.indexes, uid)
			f.enqueue(w, uid, "indexDeletion")
		case r.Method == http.MethodPatch && len(rest) == 1 && rest[0] == "settings":
			f.settings[uid] = body.(map[string]any)
			if idx == nil {
				f.indexes[uid] = map[string]json.RawMessage{}
			}
			f.enqueue(w, uid, "settingsUpdate")
		case r.Method == http.MethodGet && len(rest) == 1 && rest[0] == "stats":
			if idx == nil {
				notFound(uid)
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"numberOfDocuments": len(idx), "isIndexing": false, "fieldDistribution": map[string]int{}})
		case r.Method == http.MethodGet && len(rest) == 2 && rest[0] == "documents":
			if idx == nil {
				notFound(uid)
				return
			}
			doc, ok := idx[rest[1]]
			if !ok {
				apiError(w, http.StatusNotFound, "document_not_found", fmt.Sprintf("Document `%s` not found.", rest[1]))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(doc)
		case r.Method == http.MethodPost && len(rest) == 1 && rest[0] == "documents":
			if idx == nil {
				idx = map[string]json.RawMessage{}
				f.indexes[uid] = idx
			}
			wr := write{Index: uid}
			for _, d := range body.([]any) {
				doc := d.(map[string]any)
				raw, _ := json.Marshal(doc)
				key := fmt.Sprint(doc["id"])
				if n, ok := doc["id"].(float64); ok {
					key = strconv.FormatInt(int64(n), 10)
				}
				idx[key] = raw
				wr.Docs = append(wr.Docs, doc)
			}
			f.writes = append(f.writes, wr)
			f.enqueue(w, uid, "documentAdditionOrUpdate")
		case r.Method == http.MethodPost && len(rest) == 2 && rest[0] == "documents" && rest[1] == "delete-batch":
			if idx == nil {
				notFound(uid)
				return
			}
			wr := write{Index: uid}
			for _, id := range body.([]any) {
				n := int(id.(float64))
				delete(idx, strconv.Itoa(n))
				wr.Deleted = append(wr.Deleted, n)
			}
			f.writes = append(f.writes, wr)
			f.enqueue(w, uid, "documentDeletion")
		case r.Method == http.MethodPost && len(rest) == 1 && rest[0] == "search":
			if idx == nil {
				notFound(uid)
				return
			}
			q := body.(map[string]any)
			f.searches = append(f.searches, q)
			f.searched = append(f.searched, uid)
			if f.fail != nil {
				apiErrorOf(w, f.fail.status, f.fail.code, f.fail.kind, "failing as the test asked")
				return
			}
			var answer any = map[string]any{"hits": []any{}, "query": q["q"], "processingTimeMs": 1,
				"limit": q["limit"], "offset": q["offset"], "estimatedTotalHits": 0}
			if f.answer != nil {
				answer = f.answer(uid, q)
			}
			writeJSON(w, http.StatusOK, answer)
		default:
			apiError(w, http.StatusNotFound, "not_found", "no route "+r.Method+" "+r.URL.Path)
			f.t.Errorf("fake meilisearch: unexpected %s %s", r.Method, r.URL.Path)
		}
	default:
		apiError(w, http.StatusNotFound, "not_found", "no route "+r.Method+" "+r.URL.Path)
		f.t.Errorf("fake meilisearch: unexpected %s %s", r.Method, r.URL.Path)
	}
}

// guard bounds every wait on the fake: generous, for a loaded machine under -race.
const guard = 2 * time.Minute

// waitFor waits until cond, checked under the fake's lock after every write, holds.
func (f *fakeMeili) waitFor(t testing.TB, what string, cond func(f *fakeMeili) bool) {
	t.Helper()
	deadline := time.After(guard)
	for {
		f.mu.Lock()
		ok := cond(f)
		ch := f.changed
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			f.mu.Lock()
			t.Logf("fake meilisearch state: writes %v; tasks %d; last requests:\n%s", f.writes, len(f.tasks), strings.Join(f.recent, "\n"))
			f.mu.Unlock()
			t.Fatalf("fake meilisearch: gave up after %s waiting for %s", guard, what)
		}
	}
}

// doc returns the document id of index uid (nil when it has none).
func (f *fakeMeili) doc(uid string, id int) map[string]any {
	raw, ok := f.indexes[uid][strconv.Itoa(id)]
	if !ok {
		return nil
	}
	var d map[string]any
	_ = json.Unmarshal(raw, &d)
	return d
}

// written reports whether product id was ever written (as a document) to any index.
func (f *fakeMeili) written(id int) bool {
	for _, w := range f.writes {
		for _, d := range w.Docs {
			if d["id"] == float64(id) {
				return true
			}
		}
	}
	return false
}

// hasCursor reports whether the syncer saved a cursor (it has started).
func (f *fakeMeili) hasCursor() bool {
	_, ok := f.indexes["products_sync"]["cursor"]
	return ok
}
