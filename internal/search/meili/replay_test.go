package meili

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// exchange is one request the code under test must send and the answer the server
// gives, in order. Body is the expected JSON body (compared as JSON; "" skips the check);
// Reply is a literal JSON answer or "@file" for testdata/file.json.
type exchange struct {
	Method, Path string
	Body         string
	Status       int
	Reply        string
}

// replay is a Meilisearch stand-in that serves a script of recorded exchanges and fails
// the test on any request out of script.
type replay struct {
	t      *testing.T
	mu     sync.Mutex
	script []exchange
	next   int
	srv    *httptest.Server
}

func newReplay(t *testing.T, script ...exchange) *replay {
	t.Helper()
	r := &replay{t: t, script: script}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// then appends exchanges to the script.
func (r *replay) then(script ...exchange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.script = append(r.script, script...)
}

func (r *replay) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	body, _ := io.ReadAll(req.Body)
	got := req.Method + " " + req.URL.RequestURI()
	if r.next >= len(r.script) {
		r.t.Errorf("unexpected request %s %s", got, body)
		w.WriteHeader(http.StatusTeapot)
		return
	}
	x := r.script[r.next]
	r.next++
	if want := x.Method + " " + x.Path; got != want {
		r.t.Errorf("request %d: got %s, want %s", r.next, got, want)
	}
	if auth := req.Header.Get("Authorization"); auth != "Bearer test-key" {
		r.t.Errorf("request %d: Authorization %q", r.next, auth)
	}
	if x.Body != "" && !jsonEqual(body, []byte(x.Body)) {
		r.t.Errorf("request %d %s: body\n got %s\nwant %s", r.next, got, body, x.Body)
	}
	reply := []byte(x.Reply)
	if strings.HasPrefix(x.Reply, "@") {
		var err error
		if reply, err = os.ReadFile(filepath.Join("testdata", x.Reply[1:]+".json")); err != nil {
			r.t.Fatal(err)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(x.Status)
	w.Write(reply)
}

// done fails the test unless every exchange of the script was used.
func (r *replay) done() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next != len(r.script) {
		r.t.Errorf("only %d of %d scripted requests were sent; next: %s %s", r.next, len(r.script),
			r.script[r.next].Method, r.script[r.next].Path)
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

// client returns a client of the replay server for locales (default en).
func (r *replay) client(locales ...string) *Client {
	r.t.Helper()
	if len(locales) == 0 {
		locales = []string{"en"}
	}
	c, err := New(Config{URL: strings.Replace(r.srv.URL, "http://", "meilisearch://", 1), Key: "test-key",
		Locales: locales, SyncBatch: 2}, r.srv.Client())
	if err != nil {
		r.t.Fatal(err)
	}
	c.sleep = func(context.Context, time.Duration) error { return nil }
	return c
}

// Recorded answers, shaped as Meilisearch v1 documents them (docs/SEARCH-SERVER.md,
// "How the tests were recorded").

// enqueued is the 202 summary of an asynchronous write.
func enqueued(uid int, index, typ string) exchange {
	return exchange{Status: http.StatusAccepted, Reply: `{"taskUid":` + itoa(uid) + `,"indexUid":"` + index +
		`","status":"enqueued","type":"` + typ + `","enqueuedAt":"2026-12-06T15:04:05.123456Z"}`}
}

// write is an asynchronous write and its 202 answer.
func write(method, path, body string, uid int, index, typ string) exchange {
	x := enqueued(uid, index, typ)
	x.Method, x.Path, x.Body = method, path, body
	return x
}

// task is one task object as GET /tasks lists it.
func task(uid int, index, typ, status, errJSON string) string {
	if errJSON == "" {
		errJSON = "null"
	}
	finished := `"2026-12-06T15:04:05.223456Z"`
	if status == "enqueued" || status == "processing" {
		finished = "null"
	}
	return `{"uid":` + itoa(uid) + `,"batchUid":` + itoa(uid) + `,"indexUid":"` + index + `","status":"` + status +
		`","type":"` + typ + `","canceledBy":null,"details":{},"error":` + errJSON +
		`,"duration":"PT0.010S","enqueuedAt":"2026-12-06T15:04:05.123456Z","startedAt":"2026-12-06T15:04:05.133456Z","finishedAt":` + finished + `}`
}

// tasks is the GET /tasks?uids=… exchange answering with the given task objects.
func tasks(uids string, n int, objects ...string) exchange {
	return exchange{Method: "GET", Path: "/tasks?limit=" + itoa(n) + "&uids=" + strings.ReplaceAll(uids, ",", "%2C"),
		Status: 200, Reply: `{"results":[` + strings.Join(objects, ",") + `],"total":` + itoa(len(objects)) +
			`,"limit":` + itoa(n) + `,"from":` + strings.Split(uids, ",")[0] + `,"next":null}`}
}

// apiError is a Meilisearch error object.
func apiError(code, typ, message string) string {
	return `{"message":"` + message + `","code":"` + code + `","type":"` + typ +
		`","link":"https://docs.meilisearch.com/errors#` + code + `"}`
}

func itoa(n int) string { return strconv.Itoa(n) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
