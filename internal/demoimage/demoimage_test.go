package demoimage_test

import (
	"bytes"
	"image/png"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xiadan/xiadan/internal/demoimage"
)

func get(t *testing.T, h http.Handler, method, path string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestEveryPictureIsASmallCacheablePNG(t *testing.T) {
	t.Parallel()
	h := demoimage.Handler()
	for _, name := range demoimage.Names() {
		w := get(t, h, http.MethodGet, demoimage.Path+name, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d", name, w.Code)
		}
		if ct := w.Header().Get("Content-Type"); ct != "image/png" {
			t.Errorf("%s: Content-Type %q", name, ct)
		}
		if cc := w.Header().Get("Cache-Control"); cc != demoimage.CacheControl {
			t.Errorf("%s: Cache-Control %q", name, cc)
		}
		if corp := w.Header().Get("Cross-Origin-Resource-Policy"); corp != "cross-origin" {
			t.Errorf("%s: Cross-Origin-Resource-Policy %q; storefronts on other origins show these", name, corp)
		}
		img, err := png.Decode(bytes.NewReader(w.Body.Bytes()))
		if err != nil {
			t.Fatalf("%s: not a PNG: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
			t.Errorf("%s: %v is too small to show", name, b)
		}
		if n := w.Body.Len(); n > 16<<10 {
			t.Errorf("%s: %d bytes, want a small placeholder", name, n)
		}
		etag := w.Header().Get("ETag")
		if etag == "" {
			t.Fatalf("%s: no ETag", name)
		}
		again := get(t, h, http.MethodGet, demoimage.Path+name, http.Header{"If-None-Match": {etag}})
		if again.Code != http.StatusNotModified {
			t.Errorf("%s: If-None-Match with its ETag: status %d, want 304", name, again.Code)
		}
	}
}

func TestNamesAndURLs(t *testing.T) {
	t.Parallel()
	h := demoimage.Handler()
	for _, name := range []string{demoimage.ProductImage("green-tea", 0), demoimage.ProductImage("green-tea", 3), demoimage.Logo("tea-house")} {
		if w := get(t, h, http.MethodHead, demoimage.Path+name, nil); w.Code != http.StatusOK {
			t.Errorf("HEAD %s: status %d", name, w.Code)
		}
	}
	if demoimage.ProductImage("green-tea", 0) == demoimage.ProductImage("green-tea", 1) {
		t.Error("a product's pictures are all the same")
	}
	if got, want := demoimage.URL("http://localhost:8080/", "logo-01.png"), "http://localhost:8080/assets/demo/logo-01.png"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, demoimage.Path + "product-99.png", http.StatusNotFound},
		{http.MethodGet, demoimage.Path + "../go.mod", http.StatusNotFound},
		{http.MethodGet, demoimage.Path, http.StatusNotFound},
		{http.MethodPost, demoimage.Path + "logo-01.png", http.StatusMethodNotAllowed},
	} {
		if w := get(t, h, c.method, c.path, nil); w.Code != c.want {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, w.Code, c.want)
		}
	}
}
