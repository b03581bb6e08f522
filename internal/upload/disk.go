package upload

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DiskStore keeps files under a directory and serves them itself at /uploads/: signed,
// expiring URLs for private files and for presigned PUTs (so a client uploads to the
// binary exactly as it would to S3), unsigned ones for public files.
type DiskStore struct {
	dir  string
	base string // PublicURL: …/uploads
	key  []byte
	now  func() time.Time
}

// NewDiskStore makes the directory and returns the store. key signs its URLs.
func NewDiskStore(dir, publicURL string, key []byte, now func() time.Time) (*DiskStore, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("upload: creating UPLOAD_DIR: %w", err)
	}
	return &DiskStore{dir: dir, base: strings.TrimSuffix(publicURL, "/"), key: key, now: now}, nil
}

// keyPattern is the shape of every key the server makes: a purpose or area folder and
// path segments of safe characters (no "..", no empty segment, no leading dot).
var keyPattern = regexp.MustCompile(`^[a-z0-9-]+(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,100}){1,6}$`)

func (d *DiskStore) path(key string) (string, error) {
	if !keyPattern.MatchString(key) || strings.Contains(key, "..") {
		return "", ErrNotFound
	}
	return filepath.Join(d.dir, filepath.FromSlash(key)), nil
}

// sign is the HMAC of a request's method, key and conditions.
func (d *DiskStore) sign(parts ...string) string {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(strings.Join(parts, "\n")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// PresignPut signs a PUT of size bytes of contentType to key, served by Handler.
func (d *DiskStore) PresignPut(_ context.Context, key, contentType string, size int64, expires time.Time) (Presigned, error) {
	exp := strconv.FormatInt(expires.Unix(), 10)
	sz := strconv.FormatInt(size, 10)
	q := url.Values{"expires": {exp}, "size": {sz}, "type": {contentType},
		"signature": {d.sign(http.MethodPut, key, exp, contentType, sz)}}
	h := http.Header{}
	h.Set("Content-Type", contentType)
	return Presigned{Method: http.MethodPut, URL: d.base + "/" + key + "?" + q.Encode(), Header: h, Expires: expires}, nil
}

// Get opens the file at key.
func (d *DiskStore) Get(_ context.Context, key string) (io.ReadCloser, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}

// Put writes data at key atomically: readers see the old file or the whole new one.
func (d *DiskStore) Put(_ context.Context, key, _ string, data []byte) error {
	p, err := d.path(key)
	if err != nil {
		return fmt.Errorf("upload: invalid key %q", key)
	}
	return writeAtomic(p, func(w io.Writer) error { _, err := w.Write(data); return err })
}

func writeAtomic(p string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op once renamed
	if err := write(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

// Delete removes the files at keys.
func (d *DiskStore) Delete(_ context.Context, keys ...string) error {
	for _, k := range keys {
		p, err := d.path(k)
		if err != nil {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// URL is the file's address: plain when public, signed until expires otherwise.
func (d *DiskStore) URL(_ context.Context, key string, public bool, expires time.Time) (string, error) {
	if public {
		return d.base + "/" + key, nil
	}
	exp := strconv.FormatInt(expires.Unix(), 10)
	q := url.Values{"expires": {exp}, "signature": {d.sign(http.MethodGet, key, exp)}}
	return d.base + "/" + key + "?" + q.Encode(), nil
}

// Gate tells the disk store's handler what it may serve and accept.
type Gate interface {
	// Served reports the content type of a processed file (or thumbnail) at key and
	// whether anyone may read it without a signature; ok is false for anything else.
	Served(ctx context.Context, key string) (contentType string, public, ok bool)
	// AcceptsPut reports whether key is where a pending upload still waits for its bytes.
	AcceptsPut(ctx context.Context, key string) bool
}

// HandlerPath is where Handler is mounted.
const HandlerPath = "/uploads/"

// Handler serves GET/HEAD of stored files and presigned PUTs at HandlerPath.
func (d *DiskStore) Handler(gate Gate) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, HandlerPath)
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			d.serveGet(w, r, gate, key)
		case http.MethodPut:
			d.servePut(w, r, gate, key)
		default:
			w.Header().Set("Allow", "GET, HEAD, PUT")
			storeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "use GET to read a file, PUT to upload one")
		}
	})
}

// expired reports whether a signed URL's expiry (Unix seconds) has passed or is malformed.
func (d *DiskStore) expired(exp string) bool {
	n, err := strconv.ParseInt(exp, 10, 64)
	return err != nil || !d.now().Before(time.Unix(n, 0))
}

func (d *DiskStore) serveGet(w http.ResponseWriter, r *http.Request, gate Gate, key string) {
	q := r.URL.Query()
	signed := q.Get("signature") != ""
	if signed {
		exp := q.Get("expires")
		if !hmac.Equal([]byte(q.Get("signature")), []byte(d.sign(http.MethodGet, key, exp))) {
			storeError(w, http.StatusForbidden, "SIGNATURE_MISMATCH", "the URL's signature does not match")
			return
		}
		if d.expired(exp) {
			storeError(w, http.StatusForbidden, "URL_EXPIRED", "the URL has expired; ask for a new one")
			return
		}
	}
	ct, public, ok := gate.Served(r.Context(), key)
	if !ok || (!signed && !public) {
		storeError(w, http.StatusNotFound, "NOT_FOUND", "no such file")
		return
	}
	p, err := d.path(key)
	if err != nil {
		storeError(w, http.StatusNotFound, "NOT_FOUND", "no such file")
		return
	}
	f, err := os.Open(p)
	if err != nil {
		storeError(w, http.StatusNotFound, "NOT_FOUND", "no such file")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		storeError(w, http.StatusNotFound, "NOT_FOUND", "no such file")
		return
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	// Only checked images, PDFs and videos are stored; even so, never let a browser
	// run anything from this origin.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if public {
		h.Set("Cache-Control", "public, max-age=31536000, immutable") // keys are never reused
	} else {
		h.Set("Cache-Control", "private, max-age=300")
	}
	http.ServeContent(w, r, "", st.ModTime(), f)
}

func (d *DiskStore) servePut(w http.ResponseWriter, r *http.Request, gate Gate, key string) {
	q := r.URL.Query()
	exp, ct, sz := q.Get("expires"), q.Get("type"), q.Get("size")
	if !hmac.Equal([]byte(q.Get("signature")), []byte(d.sign(http.MethodPut, key, exp, ct, sz))) {
		storeError(w, http.StatusForbidden, "SIGNATURE_MISMATCH", "the URL's signature does not match")
		return
	}
	if d.expired(exp) {
		storeError(w, http.StatusForbidden, "URL_EXPIRED", "the upload URL has expired; create the upload again")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != ct {
		storeError(w, http.StatusBadRequest, "CONTENT_TYPE_MISMATCH", fmt.Sprintf("send the file with Content-Type: %s, as signed", ct))
		return
	}
	size, _ := strconv.ParseInt(sz, 10, 64)
	switch {
	case r.ContentLength < 0:
		storeError(w, http.StatusLengthRequired, "LENGTH_REQUIRED", "send a Content-Length")
		return
	case r.ContentLength > size:
		storeError(w, http.StatusRequestEntityTooLarge, "TOO_LARGE", fmt.Sprintf("the body must be exactly %d bytes, as signed", size))
		return
	case r.ContentLength != size:
		storeError(w, http.StatusBadRequest, "SIZE_MISMATCH", fmt.Sprintf("the body must be exactly %d bytes, as signed", size))
		return
	}
	if !gate.AcceptsPut(r.Context(), key) {
		storeError(w, http.StatusConflict, "NOT_PENDING", "this upload no longer takes a file")
		return
	}
	p, err := d.path(key)
	if err != nil {
		storeError(w, http.StatusNotFound, "NOT_FOUND", "no such upload")
		return
	}
	body := http.MaxBytesReader(w, r.Body, size)
	err = writeAtomic(p, func(out io.Writer) error {
		n, err := io.Copy(out, body)
		if err == nil && n != size {
			err = io.ErrUnexpectedEOF
		}
		return err
	})
	if err != nil {
		storeError(w, http.StatusBadRequest, "INCOMPLETE_BODY", "the body could not be read in full")
		return
	}
	w.WriteHeader(http.StatusOK)
}

// storeError answers the disk store's HTTP requests, in the shape of GraphQL errors so a
// client reads them the same way.
func storeError(w http.ResponseWriter, status int, reason, message string) {
	code := "BAD_USER_INPUT"
	switch status {
	case http.StatusForbidden:
		code = "FORBIDDEN"
	case http.StatusNotFound:
		code = "NOT_FOUND"
	case http.StatusConflict:
		code = "CONFLICT"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": message,
		"extensions": map[string]any{"code": code, "reason": reason}}}})
}
