// Package httpcache makes the answers to anonymous GraphQL queries sent by GET cacheable
// by browsers, CDNs and proxies: a Cache-Control header, a strong ETag over the body, and
// 304 Not Modified for a matching If-None-Match. Anything with a token, any error and
// anything that is not a plain GET stays out of shared caches.
package httpcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Middleware returns next with HTTP caching of its GET answers. maxAge is how long a
// shared cache may serve an anonymous answer without asking again; 0 makes them
// "no-cache" (stored, but revalidated each time with the ETag).
//
//   - A GET without Authorization whose answer is 200 with no "errors" member is
//     "public, max-age=<maxAge>" with an ETag; a matching If-None-Match gets 304 with no
//     body. GET runs queries only (a mutation sent by GET is refused with 405), and a
//     persisted query sent by GET (Apollo's useGETForHashedQueries) is cached the same.
//   - Any request with an Authorization header is "private, no-store": the answer is the
//     viewer's own, and no cache (not even the browser's) keeps it.
//   - Errors, refused requests and everything else of GET are "no-store": a
//     PERSISTED_QUERY_NOT_FOUND must not be replayed once the query is registered.
//   - POST answers are left as they are (caches do not reuse them), and so are
//     websocket upgrades and streamed answers (Server-Sent Events, multipart).
//
// Answers vary by Accept (its media type), Authorization and Origin (CORS headers).
func Middleware(maxAge time.Duration, next http.Handler) http.Handler {
	public := "no-cache"
	if secs := int(maxAge / time.Second); secs > 0 {
		public = "public, max-age=" + strconv.Itoa(secs)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			w.Header().Set("Cache-Control", "private, no-store")
			w.Header().Add("Vary", "Authorization")
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet || r.Header.Get("Upgrade") != "" || streamed(r.Header.Get("Accept")) {
			next.ServeHTTP(w, r)
			return
		}
		// The language served follows Accept-Language (internal/i18n).
		w.Header().Add("Vary", "Accept, Accept-Language, Authorization")
		buf := &bufferedWriter{header: w.Header(), status: http.StatusOK}
		next.ServeHTTP(buf, r)
		h := w.Header()
		if buf.status != http.StatusOK || hasErrors(buf.body.Bytes()) {
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(buf.status)
			_, _ = w.Write(buf.body.Bytes())
			return
		}
		sum := sha256.Sum256(buf.body.Bytes())
		etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
		h.Set("ETag", etag)
		h.Set("Cache-Control", public)
		if matches(r.Header.Get("If-None-Match"), etag) {
			h.Del("Content-Type")
			h.Del("Content-Length")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", strconv.Itoa(buf.body.Len()))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(buf.body.Bytes())
	})
}

// streamed reports whether the client asks for a streamed answer (GraphQL over SSE,
// incremental delivery), which must not be buffered.
func streamed(accept string) bool {
	return strings.Contains(accept, "text/event-stream") || strings.Contains(accept, "multipart/")
}

// hasErrors reports whether a GraphQL response has an "errors" member (or is not one).
func hasErrors(body []byte) bool {
	var resp struct {
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return true
	}
	return len(resp.Errors) > 0 && string(resp.Errors) != "null"
}

// matches reports whether an If-None-Match value names etag: "*", or one of a list,
// compared weakly as RFC 9110 asks for If-None-Match (W/"x" matches "x").
func matches(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	for part := range strings.SplitSeq(ifNoneMatch, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == etag {
			return true
		}
	}
	return false
}

// bufferedWriter holds an answer until it is complete, to hash it.
type bufferedWriter struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(status int) {
	if !b.wrote {
		b.status, b.wrote = status, true
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}
