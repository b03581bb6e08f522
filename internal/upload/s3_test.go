package upload_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/upload"
)

// The S3 store against an S3-compatible server that verifies every signature as S3 does
// (apitest.StartS3): a presigned PUT is really made over HTTP, and one whose signature, content
// type or size was changed is refused by the server.
func TestS3StorePresignedRequestsAreVerifiedByTheServer(t *testing.T) {
	s3 := apitest.StartS3(t)
	store := upload.NewS3Store(s3.Config, s3.PublicURL, time.Now)
	ctx := context.Background()
	body := []byte("\x89PNG\r\n\x1a\n pretend picture")
	put := func(p upload.Presigned, rawURL, contentType string, data []byte) int {
		t.Helper()
		req, err := http.NewRequest(p.Method, rawURL, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range p.Header {
			req.Header[k] = vs
		}
		req.Header.Set("Content-Type", contentType)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.StatusCode
	}
	p, err := store.PresignPut(ctx, "incoming/abc", "image/png", int64(len(body)), time.Now().Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if p.Method != http.MethodPut || p.Header.Get("Content-Type") != "image/png" || !strings.Contains(p.URL, "X-Amz-Signature=") {
		t.Fatalf("presigned: %+v", p)
	}
	tampered := func(rawURL string) string {
		u, _ := url.Parse(rawURL)
		q := u.Query()
		sig := []byte(q.Get("X-Amz-Signature"))
		sig[0] ^= 1
		if sig[0] == 'g' {
			sig[0] = 'a'
		}
		q.Set("X-Amz-Signature", string(sig))
		u.RawQuery = q.Encode()
		return u.String()
	}
	if got := put(p, tampered(p.URL), "image/png", body); got != http.StatusForbidden {
		t.Fatalf("tampered signature: status %d", got)
	}
	if got := put(p, p.URL, "text/html", body); got != http.StatusForbidden {
		t.Fatalf("another content type: status %d", got)
	}
	if got := put(p, p.URL, "image/png", append(body, 'x')); got != http.StatusForbidden {
		t.Fatalf("another size: status %d", got)
	}
	if _, err := store.Get(ctx, "incoming/abc"); !errors.Is(err, upload.ErrNotFound) {
		t.Fatalf("a refused PUT stored something: %v", err)
	}
	if got := put(p, p.URL, "image/png", body); got != http.StatusOK {
		t.Fatalf("presigned PUT: status %d", got)
	}
	rc, err := store.Get(ctx, "incoming/abc")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	_ = rc.Close()
	if !bytes.Equal(got, body) {
		t.Fatalf("stored %q", got)
	}

	// A private object is read through a presigned GET, which the server also checks.
	signed, err := store.URL(ctx, "incoming/abc", false, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url  string
		want int
	}{{signed, http.StatusOK}, {tampered(signed), http.StatusForbidden}} {
		res, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != tc.want {
			t.Fatalf("GET %s: status %d, want %d", tc.url, res.StatusCode, tc.want)
		}
	}
	if pub, _ := store.URL(ctx, "product-image/x", true, time.Time{}); pub != s3.PublicURL+"/product-image/x" {
		t.Fatalf("public URL %q", pub)
	}
	if err := store.Put(ctx, "product-image/2026-01/x", "image/jpeg", []byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(ctx, "incoming/abc", "product-image/2026-01/x", "never/was"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, "incoming/abc"); !errors.Is(err, upload.ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
}
