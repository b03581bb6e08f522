package app

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/database"
)

// deadlockAttempts is how many times a mutation that keeps losing MySQL deadlocks runs
// before its caller is told (CONFLICT, reason CONCURRENT_WRITE).
const deadlockAttempts = 3

// retryDeadlocks runs a GraphQL POST again when its mutation was chosen by MySQL as a
// deadlock's victim. InnoDB breaks a cycle of lock waits by rolling one transaction back
// whole; MySQL's manual asks applications to run it again. The request transaction
// (Transactioner) holds everything the mutation did, so after the rollback nothing of it
// remains, and the Transactioner says whether the operation may run again (none of its
// fields reached outside that transaction: a payment provider, or a field that commits
// on its own). Each attempt gets fresh loaders (nothing read by the lost attempt is
// reused) and the same request id, so idempotency keys derived from it hold.
//
// Only JSON POSTs are retried: their answer is kept until it is known to be the last.
// Websocket, streaming and multipart (upload) requests pass through; queries take no
// locks and are never marked.
func (a *App) retryDeadlocks(next http.Handler) http.Handler {
	if a.DB.Dialect != "mysql" { // SQLite runs one writer at a time: no deadlocks
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept, ct := r.Header.Get("Accept"), r.Header.Get("Content-Type")
		if r.Method != http.MethodPost || r.Header.Get("Upgrade") != "" || !strings.Contains(ct, "json") ||
			strings.Contains(accept, "text/event-stream") || strings.Contains(accept, "multipart/") {
			next.ServeHTTP(w, r) // uploads (multipart), streams and websockets as they come
			return
		}
		body, err := io.ReadAll(r.Body) // limitBody bounds it
		if err != nil {
			// Too large, or the client went away: the handler answers as it would have,
			// reading what came and then the same error.
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
			next.ServeHTTP(w, r)
			return
		}
		for attempt := 1; ; attempt++ {
			ctx, mark := database.WithDeadlockMark(r.Context())
			rec := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
			try := r.Clone(ctx)
			try.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(rec, try)
			if !mark.ShouldRetry() || attempt == deadlockAttempts || ctx.Err() != nil {
				rec.flushTo(w)
				return
			}
			a.Logger.InfoContext(ctx, "mutation lost a deadlock; running it again", "request_id", audit.RequestID(ctx), "attempt", attempt)
			// A short random pause, so the transactions that met do not meet again in
			// step; the winner holds its locks only until it commits.
			pause := time.Duration(1+rand.IntN(10*attempt)) * time.Millisecond
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				rec.flushTo(w)
				return
			}
		}
	})
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// bufferedResponse keeps an answer until it is known to be the one to send.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

func (b *bufferedResponse) WriteHeader(status int) { b.status = status }

func (b *bufferedResponse) flushTo(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}
