package bench

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Load is one closed-loop load run: Clients workers each send a request, wait for its
// response, and send the next, for Duration, cycling through Bodies (GraphQL POSTs).
type Load struct {
	URL      string
	Bodies   [][]byte
	Clients  int
	Duration time.Duration
	// Check judges a response body with status 200; a non-nil error counts the request
	// as failed (a GraphQL error, say).
	Check func(body []byte) error
}

// Outcome is what a load run measured.
type Outcome struct {
	// Requests is every request sent, failed ones included.
	Requests int
	// Errors counts transport errors, non-200 statuses and failed Checks.
	Errors int
	// FirstError describes one failure, for the log.
	FirstError string
	// Elapsed runs from the first request sent to the last response received.
	Elapsed time.Duration
	// latencies of every request, sorted.
	latencies []time.Duration
}

// Throughput is requests per second over the run.
func (o Outcome) Throughput() float64 {
	if o.Elapsed <= 0 {
		return 0
	}
	return float64(o.Requests) / o.Elapsed.Seconds()
}

// Percentile returns the latency under which fraction q of the requests finished
// (nearest rank over every request, not an estimate).
func (o Outcome) Percentile(q float64) time.Duration {
	if len(o.latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(o.latencies)))) - 1
	return o.latencies[min(max(i, 0), len(o.latencies)-1)]
}

// Run drives the load with vegeta at an unbounded rate with a fixed pool of Clients
// workers and connections, which makes it closed-loop: a worker only sends again once
// its previous response has arrived.
func (l Load) Run() Outcome {
	var next atomic.Uint64
	header := http.Header{"Content-Type": []string{"application/json"}}
	targeter := func(t *vegeta.Target) error {
		i := next.Add(1) - 1
		*t = vegeta.Target{Method: http.MethodPost, URL: l.URL, Body: l.Bodies[i%uint64(len(l.Bodies))], Header: header}
		return nil
	}
	n := uint64(l.Clients)
	attacker := vegeta.NewAttacker(
		vegeta.Workers(n), vegeta.MaxWorkers(n),
		vegeta.Connections(l.Clients), vegeta.MaxConnections(l.Clients),
		vegeta.KeepAlive(true), vegeta.Timeout(30*time.Second),
	)
	var o Outcome
	var first, last time.Time
	for res := range attacker.Attack(targeter, vegeta.Rate{}, l.Duration, "storefront") {
		o.Requests++
		o.latencies = append(o.latencies, res.Latency)
		if first.IsZero() || res.Timestamp.Before(first) {
			first = res.Timestamp
		}
		if end := res.End(); end.After(last) {
			last = end
		}
		if err := l.judge(res); err != nil {
			o.Errors++
			if o.FirstError == "" {
				o.FirstError = err.Error()
			}
		}
	}
	o.Elapsed = last.Sub(first)
	slices.Sort(o.latencies)
	return o
}

func (l Load) judge(res *vegeta.Result) error {
	switch {
	case res.Error != "" && res.Code == 0:
		return fmt.Errorf("request %d: %s", res.Seq, res.Error)
	case res.Code != http.StatusOK:
		return fmt.Errorf("request %d: status %d: %.300s", res.Seq, res.Code, res.Body)
	case l.Check != nil:
		if err := l.Check(res.Body); err != nil {
			return fmt.Errorf("request %d: %w", res.Seq, err)
		}
	}
	return nil
}

// Merge adds the requests of p to o, as when a benchmark repeats a run b.N times.
func (o Outcome) Merge(p Outcome) Outcome {
	o.Requests += p.Requests
	o.Errors += p.Errors
	if o.FirstError == "" {
		o.FirstError = p.FirstError
	}
	o.Elapsed += p.Elapsed
	o.latencies = append(slices.Clip(o.latencies), p.latencies...)
	slices.Sort(o.latencies)
	return o
}
