package apitest

import (
	"net"
	"testing"

	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/testdb"
)

// NewReachable is New for tests of payment providers: the server listens on an address
// chosen before it is built, and that address is its PAYMENT_PUBLIC_URL, so the sandbox's
// notifications and pay-page links reach this very server.
func NewReachable(t testing.TB, url string, opts ...func(*config.Config)) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return newServer(t, url, serverOptions{events: true, listener: l}, opts...)
}

// ForEachDialectReachable is ForEachDialect with servers built by NewReachable (its
// dialects run in parallel too), their configuration tweaked by opts.
func ForEachDialectReachable(t *testing.T, fn func(t *testing.T, s *Server), opts ...func(*config.Config)) {
	for _, d := range testdb.Dialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, NewReachable(t, d.URL(t), opts...))
		})
	}
}
