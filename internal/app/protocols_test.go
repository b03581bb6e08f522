package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/apitest"
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
