// Package payments records payments of orders and runs them through the provider layer
// (internal/payment): payOrder, provider notifications, the sandbox, and refunds.
package payments

import (
	"log/slog"
	"net/http"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/orders"
	"github.com/xiadan/xiadan/internal/payment"
	"github.com/xiadan/xiadan/internal/payment/sandbox"
)

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
	// TODO(payments): implement.
}
