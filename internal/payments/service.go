// Package payments records payments of orders and runs them through the provider layer
// (internal/payment): payOrder, provider notifications, the sandbox, and refunds.
package payments

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/payment"
	"github.com/xiadan/xiadan/internal/payment/sandbox"
)

// PaidScreener scores orders as they are paid (internal/risk implements it).
type PaidScreener interface {
	// Paid scores order o, which has just become PAID, in db's transaction, and holds
	// it for review (RISK_REVIEW) when its score is high.
	Paid(ctx context.Context, db *ent.Client, o *ent.Order) error
}

// Service runs payments of orders.
type Service struct {
	// DB is the base client, for work outside a GraphQL request (notifications).
	DB       *ent.Client
	Registry *payment.Registry
	// Sandbox is the sandbox provider when enabled, nil otherwise.
	Sandbox *sandbox.Sandbox
	Config  payment.Config
	Orders  *orders.Service
	Logger  *slog.Logger
	// Now is the clock of reconciliation (time.Now when nil).
	Now func() time.Time
	// PayerOpenID finds the openid a customer pays with in a mini program with method:
	// their identity in the app the method's provider pays in. hasPlatform is false for
	// methods no mini program pays with (BANK_CARD); openID is "" when the customer has
	// no identity there. When nil, the client's openID is taken as it is.
	PayerOpenID func(ctx context.Context, db *ent.Client, userID int, m payment.Method) (openID string, hasPlatform bool, err error)
	// Risk scores orders as they are paid; nil scores nothing.
	Risk PaidScreener
}

// New returns the payment service; it also becomes the order service's Refunder.
func New(db *ent.Client, reg *payment.Registry, sb *sandbox.Sandbox, cfg payment.Config, o *orders.Service, logger *slog.Logger) *Service {
	s := &Service{DB: db, Registry: reg, Sandbox: sb, Config: cfg, Orders: o, Logger: logger}
	o.Refunder = s
	return s
}

// Routes mounts the notification endpoint (POST /payments/notify/{provider}) and, when the
// sandbox is enabled, its pay page.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /payments/notify/{provider}", s.handleNotify)
	if s.Sandbox != nil {
		mux.Handle(sandbox.PayPath, s.Sandbox.PayPage())
	}
}

// system returns ctx with privacy bypassed: the service checks access itself (reading
// orders and payments as the caller) and then writes as the system.
func system(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}

// inTx runs fn in a new transaction of the base client, committing when it returns nil.
func (s *Service) inTx(ctx context.Context, fn func(tx *ent.Client) error) error {
	tx, err := s.DB.Tx(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			_ = tx.Rollback()
			panic(r)
		}
	}()
	if err := fn(tx.Client()); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return fmt.Errorf("%w (rollback: %v)", err, rerr)
		}
		return err
	}
	return tx.Commit()
}

// lockRows makes a query a locking read (SELECT … FOR UPDATE) on MySQL, which sees the
// latest committed rows rather than the transaction's snapshot and holds them until the
// transaction ends. SQLite needs none: its write transactions take the database lock when
// they begin (_txlock=immediate), so they never interleave.
func lockRows(s *sql.Selector) {
	if s.Dialect() == dialect.MySQL {
		s.ForUpdate()
	}
}

// lockShared makes a query a shared locking read on MySQL (LOCK IN SHARE MODE, which
// MariaDB understands, unlike FOR SHARE). Transactions that lost a race on a unique key
// all hold shared locks on it: exclusive reads there would deadlock each other.
func lockShared(s *sql.Selector) {
	if s.Dialect() == dialect.MySQL {
		s.ForShare(sql.WithLockClause("LOCK IN SHARE MODE"))
	}
}

// newRef returns a random reference for a provider: prefix and 26 characters of
// [A-Z2-7] (130 random bits), within every provider's 6–32 [A-Za-z0-9] limit.
func newRef(prefix string) string {
	return prefix + rand.Text()
}
