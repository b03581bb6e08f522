package httpcache

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestMatches(t *testing.T) {
	t.Parallel()
	const etag = `"abc"`
	for inm, want := range map[string]bool{
		`"abc"`: true, `W/"abc"`: true, `"x", "abc"`: true, `*`: true,
		``: false, `"abd"`: false, `abc`: false,
	} {
		if matches(inm, etag) != want {
			t.Errorf("matches(%q) = %v", inm, !want)
		}
	}
}

// TestStreamsAndUpgradesPassThrough: streamed answers are neither buffered nor given
// cache headers.
func TestStreamsAndUpgradesPassThrough(t *testing.T) {
	t.Parallel()
	h := Middleware(time.Minute, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("a streamed answer lost its Flusher")
		}
		_, _ = w.Write([]byte(`{"data":{}}`))
	}))
	for _, hdr := range []map[string]string{{"Accept": "text/event-stream"}, {"Accept": "multipart/mixed"}, {"Upgrade": "websocket"}} {
		r := httptest.NewRequest(http.MethodGet, "/graphql?query=x", nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Header().Get("ETag") != "" || w.Header().Get("Cache-Control") != "" {
			t.Errorf("%v: %v", hdr, w.Header())
		}
	}
}
