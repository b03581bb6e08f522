// Package webhooks sends order events to merchants' and partners' HTTPS endpoints: signed
// with HMAC-SHA256, retried with backoff, every attempt logged, and endpoints that keep
// failing disabled with a reason their owners can read.
package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/privacy"
)

// Service manages webhooks and delivers their events.
type Service struct {
	// DB is the base client; inside a GraphQL mutation the request transaction is used.
	DB *ent.Client
	// Logger receives worker errors and disabled webhooks.
	Logger *slog.Logger
	// AllowPrivate lets webhooks use http:// and reach loopback, private and link-local
	// addresses (WEBHOOK_ALLOW_PRIVATE): for development and tests, never production.
	AllowPrivate bool
	// Now is the clock, replaceable in tests.
	Now func() time.Time
	// Concurrency is the most requests in flight per RunOnce.
	Concurrency int
	// Batch is the most deliveries claimed per RunOnce.
	Batch int
	// Interval is how long Run waits when there was nothing to send.
	Interval time.Duration
	// Timeout bounds one HTTP attempt.
	Timeout time.Duration
	// HTTP sends the requests; nil builds a client that refuses non-public addresses
	// (unless AllowPrivate) and never follows redirects.
	HTTP *http.Client

	clientOnce sync.Once
	client     *http.Client
}

// New returns a service over db with the default worker settings.
func New(db *ent.Client, logger *slog.Logger, allowPrivate bool) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{DB: db, Logger: logger, AllowPrivate: allowPrivate, Now: time.Now,
		Concurrency: 8, Batch: 64, Interval: time.Second, Timeout: 5 * time.Second}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// db returns the request's transaction when there is one, the base client otherwise.
func (s *Service) db(ctx context.Context) *ent.Client {
	if tx := ent.FromContext(ctx); tx != nil {
		return tx
	}
	return s.DB
}

// inTx runs fn in the request's transaction, or in a new one.
func (s *Service) inTx(ctx context.Context, fn func(tx *ent.Client) error) error {
	if tx := ent.FromContext(ctx); tx != nil {
		return fn(tx)
	}
	tx, err := s.DB.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx.Client()); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// allow bypasses the webhook privacy policies, which admit only the system: this service
// checks the caller itself before every read and write.
func allow(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}

func (s *Service) httpClient() *http.Client {
	if s.HTTP != nil {
		return s.HTTP
	}
	s.clientOnce.Do(func() {
		d := &net.Dialer{Timeout: 5 * time.Second}
		if !s.AllowPrivate {
			d.Control = dialControl
		}
		s.client = &http.Client{
			Transport: &http.Transport{
				Proxy:                 nil, // a proxy would dial for us, past the address check
				DialContext:           d.DialContext,
				TLSHandshakeTimeout:   5 * time.Second,
				ResponseHeaderTimeout: 5 * time.Second,
				MaxIdleConnsPerHost:   2,
				IdleConnTimeout:       90 * time.Second,
			},
			// A redirect could lead anywhere; a 3xx is a failed attempt the owner can see.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	})
	return s.client
}

// newSecret returns a fresh signing secret.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b), nil
}
