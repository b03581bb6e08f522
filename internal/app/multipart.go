package app

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// multipart/mixed answers, for clients that ask for them first in Accept:
//
//   - a subscription, as Apollo's multipart subscriptions
//     (https://www.apollographql.com/docs/graphos/routing/operations/subscriptions/multipart-protocol):
//     each result is a part {"payload": result}, a part {} is a heartbeat sent every
//     STREAM_KEEPALIVE_INTERVAL, and the closing boundary ends the subscription;
//   - a query or mutation, as incremental delivery (deferSpec=20220824, what Apollo Client
//     and urql read): the initial result with hasNext, then one part per @defer fragment
//     {"incremental": [{"data", "path", "label"}], "hasNext"}.
//
// Each part is followed at once by the next boundary, so a client parses it without
// waiting for the one after.

// multipartBoundary separates the parts.
const multipartBoundary = "graphql"

// multipartWriter writes the parts of one response; its methods may be called from several
// goroutines.
type multipartWriter struct {
	mu  sync.Mutex
	w   http.ResponseWriter
	rc  *http.ResponseController
	err error
}

func startMultipart(w http.ResponseWriter, spec string) *multipartWriter {
	h := w.Header()
	h.Set("Content-Type", `multipart/mixed; boundary="`+multipartBoundary+`"; `+spec)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	m := &multipartWriter{w: w, rc: http.NewResponseController(w)}
	m.write([]byte("\r\n--" + multipartBoundary))
	return m
}

func (m *multipartWriter) write(b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if _, err := m.w.Write(b); err != nil {
		m.err = err
		return err
	}
	if err := m.rc.Flush(); err != nil {
		m.err = err
	}
	return m.err
}

// part writes v as one JSON part.
func (m *multipartWriter) part(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	out := make([]byte, 0, len(b)+80)
	out = append(out, "\r\nContent-Type: application/json; charset=utf-8\r\n\r\n"...)
	out = append(out, b...)
	out = append(out, "\r\n--"+multipartBoundary...)
	return m.write(out)
}

// end writes the closing boundary; every later write fails (the heartbeat's goroutine
// must not write once the handler has returned).
func (m *multipartWriter) end() {
	_ = m.write([]byte("--\r\n"))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = errStreamClosed
}

// serveMultipart answers an operation as multipart/mixed.
func (p *protocols) serveMultipart(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, rc *graphql.OperationContext) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if rc.Operation.Operation != ast.Subscription {
		m := startMultipart(w, "deferSpec=20220824")
		defer m.end()
		responses, ctx := exec.DispatchOperation(ctx, rc)
		first := true
		for resp := responses(ctx); resp != nil; resp = responses(ctx) {
			if first {
				first = false
				if resp.HasNext == nil {
					no := false
					resp.HasNext = &no
				}
				if m.part(resp) != nil {
					return
				}
				continue
			}
			hasNext := resp.HasNext != nil && *resp.HasNext
			resp.HasNext = nil
			if m.part(struct {
				Incremental []*graphql.Response `json:"incremental"`
				HasNext     bool                `json:"hasNext"`
			}{[]*graphql.Response{resp}, hasNext}) != nil {
				return
			}
		}
		return
	}
	if !p.openStream(w, ctx, cancel) {
		return
	}
	m := startMultipart(w, `subscriptionSpec="1.0"`)
	defer m.end()
	go func(ctx context.Context) { // ctx is passed: the one below is reassigned
		t := time.NewTicker(p.keepAlive)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if m.part(struct{}{}) != nil {
					return
				}
			}
		}
	}(ctx)
	responses, ctx := exec.DispatchOperation(ctx, rc)
	for resp := responses(ctx); resp != nil; resp = responses(ctx) {
		if m.part(map[string]any{"payload": resp}) != nil {
			return
		}
	}
}
