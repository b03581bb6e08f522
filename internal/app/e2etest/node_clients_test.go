package e2etest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/testdb"
)

// The HTTP protocols end to end: the graphql-http audit and the npm clients front ends use
// over HTTP (graphql-sse, urql, Apollo Client), each run by node on a script of e2e/ against
// the real server. The websocket clients are tested in events_test.go.

// runNodeScript runs node on e2e/<script> with args until it exits (at most two minutes) and
// decodes the report line it prints last into report. It returns the error node exited
// with, and what it wrote to stderr.
func runNodeScript(t *testing.T, ctx context.Context, node, root, script string, report any, args ...string) (runErr error, stderr string) {
	t.Helper()
	cmd := startNodeScript(t, ctx, node, root, script, args...)
	return cmd.wait(t, report)
}

// nodeRun is a running e2e script.
type nodeRun struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	script         string
}

// startNodeScript starts node on e2e/<script> with args.
func startNodeScript(t *testing.T, ctx context.Context, node, root, script string, args ...string) *nodeRun {
	t.Helper()
	r := &nodeRun{script: script}
	r.cmd = exec.CommandContext(ctx, node, append([]string{filepath.Join(root, "e2e", script)}, args...)...)
	r.cmd.Dir = root
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	r.cmd.WaitDelay = 5 * time.Second
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return r
}

// wait waits for the script to exit and decodes its last line into report.
func (r *nodeRun) wait(t *testing.T, report any) (runErr error, stderr string) {
	t.Helper()
	runErr = r.cmd.Wait()
	out := strings.TrimSpace(r.stdout.String())
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	if err := json.Unmarshal([]byte(out), report); err != nil {
		t.Fatalf("e2e/%s (%v) printed no report: %v\nstdout: %s\nstderr: %s", r.script, runErr, err, r.stdout.String(), r.stderr.String())
	}
	return runErr, r.stderr.String()
}

// TestGraphQLHTTPAudit runs the graphql-http audit (npm graphql-http's serverAudits: the
// GraphQL-over-HTTP spec's MUSTs, SHOULDs and MAYs) against /graphql and requires every
// check to pass, listing each one that does not with the response it got. It needs node and
// e2e/node_modules (bash e2e/setup.sh): skipped without them, except under CI=true.
func TestGraphQLHTTPAudit(t *testing.T) {
	if testing.Short() {
		t.Skip("node end-to-end test: skipped with -short")
	}
	t.Parallel()
	root := e2eRepoRoot(t)
	node := nodeWithModules(t, root, "graphql-http", "graphql")
	// The audit speaks HTTP only; the database does not matter to it.
	s := apitest.New(t, testdb.SQLiteURL(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var rep struct {
		OK     bool `json:"ok"`
		Total  int  `json:"total"`
		Passed int  `json:"passed"`
		Failed []struct {
			ID, Name, Status, Reason string
			Response                 struct {
				Status      int
				ContentType string
				Body        string
			}
		} `json:"failed"`
	}
	runErr, stderr := runNodeScript(t, ctx, node, root, "audit.mjs", &rep, s.HTTP.URL+"/graphql")
	for _, f := range rep.Failed {
		t.Errorf("audit %s failed (%s): %s\n\treason: %s\n\tresponse: %d %s %s", f.ID, f.Status, f.Name, f.Reason,
			f.Response.Status, f.Response.ContentType, f.Response.Body)
	}
	if !rep.OK || runErr != nil || rep.Total < 50 {
		t.Fatalf("the audit passed %d of %d checks (node: %v)\nstderr: %s", rep.Passed, rep.Total, runErr, stderr)
	}
	t.Logf("graphql-http audit: %d of %d checks pass", rep.Passed, rep.Total)
}

// TestNodeHTTPClients: the npm clients front ends use over HTTP — graphql-sse in both its
// modes, urql (fetchExchange, subscriptions over fetch) and Apollo Client (HttpLink,
// multipart subscriptions) — each run the storefront flow (search, add to cart, place,
// pay in the sandbox) while an order subscription receives the PAID event; urql and
// Apollo also run a query with @defer (e2e/http-clients.mjs). Skipped without node and
// e2e/node_modules, except under CI=true.
func TestNodeHTTPClients(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("node end-to-end test: skipped with -short")
	}
	root := e2eRepoRoot(t)
	node := nodeWithModules(t, root, "graphql-sse", "@urql/core", "@apollo/client", "rxjs", "graphql")
	// Reachable: the payment sandbox posts its signed notification to the server itself.
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		m := s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
		s.NewProduct(t, m, "Longjing tea", product.KindPHYSICAL, "TEA-1", 3800, 100)
		for _, client := range []string{"sse-distinct", "sse-single", "urql", "apollo"} {
			t.Run(client, func(t *testing.T) {
				buyer := s.Register(client+"@example.com", client)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				r := &nodeRun{script: "http-clients.mjs"}
				r.cmd = exec.CommandContext(ctx, node, filepath.Join(root, "e2e", "http-clients.mjs"), client, s.HTTP.URL+"/graphql", buyer.AccessToken, "Longjing")
				r.cmd.Dir = root
				r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
				r.cmd.WaitDelay = 5 * time.Second
				stdin, err := r.cmd.StdinPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := r.cmd.Start(); err != nil {
					t.Fatal(err)
				}
				waitSubscribers(t, s, 1)
				_, _ = io.WriteString(stdin, "go\n")
				var rep struct {
					OK       bool
					Steps    []string
					Error    string
					Order    struct{ ID, Status string }
					Deferred *struct {
						Parts int
						Data  struct {
							Product struct {
								Variants []struct{ SKU string }
							}
						}
					}
					Events []struct {
						Type  string
						Order struct{ ID, Status string }
					}
				}
				runErr, stderr := r.wait(t, &rep)
				if !rep.OK || runErr != nil {
					t.Fatalf("%s failed (%v) after %v: %s\nstderr: %s", client, runErr, rep.Steps, rep.Error, stderr)
				}
				var paid bool
				for _, e := range rep.Events {
					paid = paid || e.Type == "PAID" && e.Order.ID == rep.Order.ID
				}
				if !paid || rep.Order.Status != "PENDING_PAYMENT" {
					t.Errorf("%s: order %+v, events %+v", client, rep.Order, rep.Events)
				}
				if client == "urql" || client == "apollo" {
					if rep.Deferred == nil || len(rep.Deferred.Data.Product.Variants) != 1 || rep.Deferred.Data.Product.Variants[0].SKU != "TEA-1" {
						t.Errorf("%s: the deferred query gave %+v", client, rep.Deferred)
					}
				}
				waitSubscribers(t, s, 0)
			})
		}
	})
}

// TestNodeGraphQLWSClient: the npm graphql-ws client — what web and React Native front
// ends use — connects with a token in connection_init, subscribes to myOrderEvents and
// receives the CREATED event of the order this test places (e2e/subscriptions.mjs prints
// what it received). It needs node and e2e/node_modules (bash e2e/setup.sh); without them
// it is skipped, loudly, except under CI=true, where it fails.
func TestNodeGraphQLWSClient(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("node end-to-end test: skipped with -short")
	}
	root := e2eRepoRoot(t)
	node := nodeWithModules(t, root, "graphql-ws", "ws")
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newEvShop(t, s)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, filepath.Join(root, "e2e", "subscriptions.mjs"), s.WSURL(), w.buyer.AccessToken, "1")
		cmd.Dir = root
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitSubscribers(t, s, 1)
		order, number, _ := w.place(t, w.buyer.AccessToken, w.tea, "node-1")
		runErr := cmd.Wait()

		var rep struct {
			OK       bool   `json:"ok"`
			Protocol string `json:"protocol"`
			Error    string `json:"error"`
			Events   []struct {
				Cursor   string `json:"cursor"`
				Sequence int64  `json:"sequence"`
				Type     string `json:"type"`
				ToStatus string `json:"toStatus"`
				Order    struct{ ID, Number, Status string }
			} `json:"events"`
		}
		out := strings.TrimSpace(stdout.String())
		if i := strings.LastIndexByte(out, '\n'); i >= 0 {
			out = out[i+1:]
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("e2e/subscriptions.mjs (%v) printed no report: %v\nstdout: %s\nstderr: %s", runErr, err, stdout.String(), stderr.String())
		}
		if !rep.OK || runErr != nil {
			t.Fatalf("the node client failed (%v): %s\nstderr: %s", runErr, rep.Error, stderr.String())
		}
		if rep.Protocol != apitest.ProtocolTransportWS {
			t.Errorf("negotiated %q, want graphql-transport-ws", rep.Protocol)
		}
		e := rep.Events[0]
		if _, err := events.ParseCursor("cursor", e.Cursor); err != nil || e.Type != "CREATED" || e.ToStatus != "PENDING_PAYMENT" ||
			e.Sequence < 1 || e.Order.ID != order || e.Order.Number != number || e.Order.Status != "PENDING_PAYMENT" {
			t.Errorf("the node client received %+v", e)
		}
		t.Logf("node graphql-ws received: %s", out)
	})
}

// nodeWithModules finds node (20+) and the npm modules e2e/package.json pins, installed in
// e2e/node_modules at the pinned versions. When something is missing the test is skipped
// loudly, or fails under CI=true, where e2e/setup.sh should have run.
func nodeWithModules(t *testing.T, root string, modules ...string) string {
	t.Helper()
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node is not on PATH (Node 20 or later)")
	} else if v, err := exec.Command(node, "--version").Output(); err != nil {
		missing = append(missing, fmt.Sprintf("node --version: %v", err))
	} else if major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(strings.TrimSpace(string(v)), "v"), ".", 2)[0]); major < 20 {
		missing = append(missing, fmt.Sprintf("node is %s; graphql-ws needs 20 or later", strings.TrimSpace(string(v))))
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
		Version      string            `json:"version"`
	}
	if b, err := os.ReadFile(filepath.Join(root, "e2e", "package.json")); err != nil || json.Unmarshal(b, &pkg) != nil {
		t.Fatalf("reading e2e/package.json: %v", err)
	}
	pins := pkg.Dependencies
	for _, m := range modules {
		pinned := pins[m]
		if pinned == "" {
			t.Fatalf("e2e/package.json does not pin %s", m)
		}
		pkg.Version = ""
		b, err := os.ReadFile(filepath.Join(root, "e2e", "node_modules", m, "package.json"))
		switch {
		case err != nil || json.Unmarshal(b, &pkg) != nil:
			missing = append(missing, fmt.Sprintf("e2e/node_modules has no %s (npm ci --prefix e2e)", m))
		case pkg.Version != pinned:
			missing = append(missing, fmt.Sprintf("e2e/node_modules has %s %s, package.json pins %s (npm ci --prefix e2e)", m, pkg.Version, pinned))
		}
	}
	if len(missing) > 0 {
		msg := "the node graphql-ws client test cannot run: " + strings.Join(missing, "; ") + ". Install with: bash e2e/setup.sh"
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: " + msg)
		}
		fmt.Fprintln(os.Stderr, "!!! SKIPPING "+t.Name()+": "+msg)
		t.Skip("!!! SKIPPED: " + msg)
	}
	return node
}
