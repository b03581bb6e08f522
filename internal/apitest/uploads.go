package apitest

import (
	"net"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/upload"
)

// NewForUploads is a server for upload tests: it listens on an address chosen before it
// is built, which its disk store's URLs (UPLOAD_PUBLIC_URL) point at, so presigned PUTs
// and signed downloads reach this very server; and it goes by clock (nil: the wall clock)
// for tokens, signed URLs and upload expiry.
func NewForUploads(t testing.TB, url string, clock *Clock, opts ...func(*config.Config)) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	opts = append([]func(*config.Config){func(c *config.Config) {
		c.Upload.PublicURL = base + "/uploads"
		c.Upload.Dir = filepath.Join(c.DataDir, "uploads")
	}}, opts...)
	return newServer(t, url, serverOptions{events: true, listener: l, clock: clock}, opts...)
}

// S3 is a running S3-compatible server for a test.
type S3 struct {
	Config upload.S3Config
	// PublicURL is the bucket's address (path style).
	PublicURL string
	// Requests counts the requests whose signature the server checked and accepted.
	Requests *atomic.Int64
}

// StartS3 runs an S3-compatible server until the test ends: gofakes3's in-memory S3
// behind SigV4Verifier, which checks AWS Signature Version 4 on every request, presigned
// URLs included, as S3 does. (No real S3 server can be installed here: MinIO is not
// packaged, and the npm s3rver skips Version 4 signatures altogether.)
func StartS3(t testing.TB) S3 {
	t.Helper()
	const bucket, keyID, secret = "xiadan-test", "XIADANTESTKEY", "xiadan-test-secret-access-key"
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	faker := gofakes3.New(backend)
	v := &SigV4Verifier{Region: "us-east-1", Service: "s3", Secrets: map[string]string{keyID: secret}, Now: time.Now,
		Next: faker.Server(), Accepted: &atomic.Int64{}}
	hs := httptest.NewServer(v)
	t.Cleanup(hs.Close)
	return S3{
		Config: upload.S3Config{Endpoint: hs.URL, Region: "us-east-1", Bucket: bucket,
			AccessKeyID: keyID, SecretAccessKey: secret, ForcePathStyle: true},
		PublicURL: hs.URL + "/" + bucket,
		Requests:  v.Accepted,
	}
}
