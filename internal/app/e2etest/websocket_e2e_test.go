package e2etest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/testdb"
)

// TestNodeStorefrontClients: the websocket clients front ends use — the graphql-ws client,
// the legacy subscriptions-transport-ws client and Apollo Client (HttpLink with
// GraphQLWsLink) — each run a storefront's order flow with e2e/storefront.mjs: search,
// add to cart, place the order from the cart, follow it with orderStatusChanged, pay with
// the sandbox, and receive the PAID event; the two graphql-ws based ones also renew their
// token in-band. Needs node and e2e/node_modules (bash e2e/setup.sh); skipped without
// them, except under CI=true.
func TestNodeStorefrontClients(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("node end-to-end test: skipped with -short")
	}
	root := e2eRepoRoot(t)
	node := nodeWithModules(t, root, "graphql-ws", "ws", "graphql", "@apollo/client", "rxjs", "subscriptions-transport-ws")
	// Reachable: the sandbox's payment notification comes back to this server.
	s := apitest.NewReachable(t, testdb.SQLiteURL(t))
	newEvShop(t, s) // the tea house and its Longjing tea
	for _, tc := range []struct{ client, protocol string }{
		{"graphql-ws", apitest.ProtocolTransportWS},
		{"subscriptions-transport-ws", apitest.ProtocolLegacyWS},
		{"apollo", apitest.ProtocolTransportWS},
	} {
		t.Run(tc.client, func(t *testing.T) {
			waitSubscribers(t, s, 0) // the previous client has gone
			buyer := s.Register(tc.client+"@example.com", tc.client)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, filepath.Join(root, "e2e", "storefront.mjs"), tc.client,
				s.HTTP.URL+"/graphql", s.WSURL(), buyer.AccessToken, "Longjing")
			cmd.Dir = root
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var lines []string
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				line := sc.Text()
				lines = append(lines, line)
				if strings.Contains(line, `"stage":"subscribed"`) {
					waitSubscribers(t, s, 1)
					_, _ = io.WriteString(stdin, "go\n")
				}
			}
			runErr := cmd.Wait()
			var rep struct {
				OK       bool   `json:"ok"`
				Protocol string `json:"protocol"`
				Error    string `json:"error"`
				Order    struct{ ID, Number, Status string }
				Events   []struct {
					Type, ToStatus string
					Order          struct{ ID, Status string }
				} `json:"events"`
				Refresh map[string]any `json:"refresh"`
			}
			if len(lines) == 0 || json.Unmarshal([]byte(lines[len(lines)-1]), &rep) != nil {
				t.Fatalf("e2e/storefront.mjs %s (%v) printed no report:\n%s\nstderr: %s", tc.client, runErr, strings.Join(lines, "\n"), stderr.String())
			}
			if !rep.OK || runErr != nil {
				t.Fatalf("%s failed (%v): %s\n%s\nstderr: %s", tc.client, runErr, rep.Error, strings.Join(lines, "\n"), stderr.String())
			}
			if rep.Protocol != tc.protocol {
				t.Errorf("negotiated %q, want %q", rep.Protocol, tc.protocol)
			}
			last := rep.Events[len(rep.Events)-1]
			if rep.Order.Status != "PENDING_PAYMENT" || last.Type != "PAID" || last.ToStatus != "PAID" || last.Order.ID != rep.Order.ID {
				t.Errorf("%s: order %+v, events %+v", tc.client, rep.Order, rep.Events)
			}
			if tc.protocol == apitest.ProtocolTransportWS {
				if exp, _ := rep.Refresh["expiresAt"].(string); exp == "" {
					t.Errorf("%s: the in-band refresh was answered with %v", tc.client, rep.Refresh)
				}
			}
			t.Logf("%s: %s", tc.client, lines[len(lines)-1])
		})
	}
}
