package bench

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// ClientLoad is a closed loop whose requests are built one by one: each client is its
// own signed-in user and may send a different body every time (a fresh idempotency key,
// say), which Load's fixed bodies without headers cannot express.
type ClientLoad struct {
	URL      string
	Clients  int
	Duration time.Duration
	// Request returns the GraphQL POST body of client c's i-th request and the access
	// token it is sent with ("" for none).
	Request func(c, i int) (body []byte, token string)
	// Check judges a response body with status 200, as Load.Check does.
	Check func(body []byte) error
}

// Run starts Clients workers, each with one keep-alive connection, that send a request,
// wait for its response and send the next until Duration has passed since the start.
func (l ClientLoad) Run() Outcome {
	transport := &http.Transport{MaxIdleConnsPerHost: l.Clients, MaxConnsPerHost: l.Clients}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}

	type worker struct {
		latencies  []time.Duration
		errors     int
		firstError string
		last       time.Time
	}
	workers := make([]worker, l.Clients)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range l.Clients {
		wg.Go(func() {
			w := &workers[c]
			for i := 0; time.Since(start) < l.Duration; i++ {
				body, token := l.Request(c, i)
				sent := time.Now()
				err := l.send(client, body, token)
				w.last = time.Now()
				w.latencies = append(w.latencies, w.last.Sub(sent))
				if err != nil {
					w.errors++
					if w.firstError == "" {
						w.firstError = fmt.Sprintf("client %d, request %d: %v", c, i, err)
					}
				}
			}
		})
	}
	wg.Wait()

	var o Outcome
	var last time.Time
	for _, w := range workers {
		o.Requests += len(w.latencies)
		o.Errors += w.errors
		if o.FirstError == "" {
			o.FirstError = w.firstError
		}
		if w.last.After(last) {
			last = w.last
		}
		o.latencies = append(o.latencies, w.latencies...)
	}
	o.Elapsed = last.Sub(start)
	slices.Sort(o.latencies)
	return o
}

func (l ClientLoad) send(client *http.Client, body []byte, token string) error {
	req, err := http.NewRequest(http.MethodPost, l.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rsp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer rsp.Body.Close()
	out, err := io.ReadAll(rsp.Body)
	switch {
	case err != nil:
		return err
	case rsp.StatusCode != http.StatusOK:
		return fmt.Errorf("status %d: %.300s", rsp.StatusCode, out)
	case l.Check != nil:
		return l.Check(out)
	}
	return nil
}
