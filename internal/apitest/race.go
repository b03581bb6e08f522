package apitest

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/xiadan/xiadan/internal/testdb"
)

// Racer is one participant of a race: a request (or a job) that reports what it got.
type Racer func() (*Response, error)

// Outcome is what one racer got.
type Outcome struct {
	R   *Response
	Err error
}

// Code is the racer's extensions.code, "" when it succeeded, or "TRANSPORT: …" when the
// request itself failed.
func (o Outcome) Code() string {
	if o.Err != nil {
		return "TRANSPORT: " + o.Err.Error()
	}
	return o.R.Code()
}

func (o Outcome) String() string {
	if o.Err != nil {
		return o.Err.Error()
	}
	return string(o.R.Raw)
}

// Race runs the racers at the same moment — each waits at a start line, then all go —
// and returns what each got, in order.
func Race(racers ...Racer) []Outcome {
	out := make([]Outcome, len(racers))
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i, fn := range racers {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			r, err := fn()
			out[i] = Outcome{r, err}
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return out
}

// Request returns a racer making one GraphQL request as the holder of token.
func (s *Server) Request(token, query string, vars map[string]any) Racer {
	return func() (*Response, error) {
		return s.Try(Request{Query: query, Token: token, Variables: vars})
	}
}

// Successes counts the outcomes that succeeded and fails the test for any that failed
// otherwise than with one of the allowed codes (and, for INVALID_STATE, without naming the
// current state).
func Successes(t testing.TB, what string, outs []Outcome, allowed ...string) int {
	t.Helper()
	n := 0
	for _, o := range outs {
		code := o.Code()
		switch {
		case code == "":
			n++
		case !contains(allowed, code):
			t.Errorf("%s: unexpected outcome %s", what, o)
		case code == "INVALID_STATE" && o.R.Errors[0].Extensions["currentState"] == nil:
			t.Errorf("%s: INVALID_STATE without currentState: %s", what, o)
		}
	}
	return n
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// RaceDialects are the databases a concurrency test runs on: SQLite, which serialises
// writers, and MySQL at REPEATABLE READ (InnoDB's default) and at READ COMMITTED, where
// the races are real.
func RaceDialects() []testdb.Dialect {
	return []testdb.Dialect{
		{Name: "sqlite", URL: testdb.SQLiteURL},
		{Name: "mysql-repeatable-read", URL: func(t testing.TB) string { return testdb.MySQLURLAt(t, testdb.RepeatableRead) }},
		{Name: "mysql-read-committed", URL: func(t testing.TB) string { return testdb.MySQLURLAt(t, testdb.ReadCommitted) }},
	}
}

// RaceRounds is how many rounds a concurrency test runs on dialect d (a RaceDialects
// name): mysqlRounds on MySQL, where the races are real, and a third of that (at least
// one) on SQLite, which serialises writers and so only checks that every scenario passes.
// RACE_ROUNDS=n runs n rounds on every dialect, to hunt a rare interleaving:
//
//	RACE_ROUNDS=50 go test -race -count=1 -run Concurrent ./internal/orders
func RaceRounds(d testdb.Dialect, mysqlRounds int) int {
	if n, err := strconv.Atoi(os.Getenv("RACE_ROUNDS")); err == nil && n > 0 {
		return n
	}
	if strings.HasPrefix(d.Name, "sqlite") {
		return max(1, mysqlRounds/3)
	}
	return mysqlRounds
}
