package upload

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// ErrNotFound is a Store's answer for a key that holds nothing.
var ErrNotFound = errors.New("upload: no such object")

// Store keeps the files: the disk store (DiskStore) or an S3-compatible bucket (S3Store).
type Store interface {
	// PresignPut returns a request the client makes to put exactly size bytes of
	// contentType at key, valid until expires.
	PresignPut(ctx context.Context, key, contentType string, size int64, expires time.Time) (Presigned, error)
	// Get opens the object at key (ErrNotFound when there is none).
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Put stores data at key.
	Put(ctx context.Context, key, contentType string, data []byte) error
	// Delete removes the objects; a missing one is not an error.
	Delete(ctx context.Context, keys ...string) error
	// URL is where the object at key is read: its public address when public, a
	// signed one valid until expires otherwise.
	URL(ctx context.Context, key string, public bool, expires time.Time) (string, error)
}

// Presigned is an HTTP request a client makes without credentials of its own.
type Presigned struct {
	Method string
	URL    string
	// Header is what the request must carry (Content-Type; Content-Length is the size
	// of the body, which browsers and mini programs set themselves).
	Header  http.Header
	Expires time.Time
}
