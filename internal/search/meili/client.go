// Package meili keeps a Meilisearch server's product indexes in step with the catalog
// and answers storefront searches from them, for deployments that outgrow the embedded
// search (docs/SEARCH-SERVER.md).
package meili

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrUnavailable means the search server cannot answer now: it is unreachable, overloaded,
// refuses our key, or has no index for the locale yet. The storefront answers from the
// embedded search instead. Every such error wraps it (errors.Is).
var ErrUnavailable = errors.New("search server unavailable")

// APIError is an error object Meilisearch returned, as documented:
// {"message", "code", "type", "link"}.
type APIError struct {
	Status  int    `json:"-"`
	Message string `json:"message"`
	Code    string `json:"code"`
	Type    string `json:"type"`
	Link    string `json:"link"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("meilisearch %d %s: %s", e.Status, e.Code, e.Message)
}

// unavailable reports whether the embedded search should answer instead: the server is
// down or busy (5xx, 429, 408), our key is refused (type auth), or the index does not
// exist yet. An invalid_request error is a request we built wrong, and stays an APIError.
func (e *APIError) unavailable() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout ||
		e.Type == "auth" || e.Type == "system" || e.Code == "index_not_found"
}

// unavailableError wraps a cause so that errors.Is(err, ErrUnavailable) and
// errors.As(err, *APIError) both work.
type unavailableError struct{ cause error }

func (e unavailableError) Error() string         { return "search server unavailable: " + e.cause.Error() }
func (e unavailableError) Unwrap() []error       { return []error{ErrUnavailable, e.cause} }
func markUnavailable(err error) unavailableError { return unavailableError{cause: err} }

// Client talks to one Meilisearch server over its v1 HTTP API.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
	// sleep waits between task polls; tests replace it.
	sleep func(context.Context, time.Duration) error
}

// New returns a client for cfg (see Config.Validate). httpClient may be nil.
func New(cfg Config, httpClient *http.Client) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, _ := parseServerURL(cfg.URL)
	if httpClient == nil {
		// Go keeps 2 idle connections per host by default: at hundreds of searches a
		// second the rest would open a new connection each time.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 100
		httpClient = &http.Client{Timeout: cfg.Timeout, Transport: t}
	}
	return &Client{cfg: cfg, base: base, http: httpClient, sleep: sleepCtx}, nil
}

// Config returns the client's configuration, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// do sends one request and decodes a 2xx answer into out (when out is not nil).
// Transport failures and server-side errors wrap ErrUnavailable.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cfg.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The URL is ours (no secret in it), the key is in a header: safe to show.
		return markUnavailable(fmt.Errorf("%s %s: %w", method, path, err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return markUnavailable(fmt.Errorf("%s %s: reading the answer: %w", method, path, err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(data, apiErr) != nil || apiErr.Code == "" {
			apiErr.Code = "http_" + strconv.Itoa(resp.StatusCode)
			apiErr.Message = strings.TrimSpace(string(data[:min(len(data), 200)]))
		}
		if apiErr.unavailable() {
			return markUnavailable(apiErr)
		}
		return apiErr
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return markUnavailable(fmt.Errorf("%s %s: unexpected answer: %w", method, path, err))
	}
	return nil
}

// Task is Meilisearch's task object: the summary an asynchronous write returns
// (taskUid) and the full object GET /tasks answers (uid).
type Task struct {
	UID      int64     `json:"uid"`
	TaskUID  int64     `json:"taskUid"`
	IndexUID string    `json:"indexUid"`
	Status   string    `json:"status"`
	Type     string    `json:"type"`
	Error    *APIError `json:"error"`
}

func (t Task) id() int64 {
	if t.TaskUID != 0 {
		return t.TaskUID
	}
	return t.UID
}

// wait polls GET /tasks?uids=… until every task has finished, and fails with the first
// task that did not succeed. Tasks run in the order they were enqueued, but a failed
// one does not stop the next, so each is checked.
func (c *Client) wait(ctx context.Context, tasks ...Task) error {
	return c.waitAllowing(ctx, nil, tasks...)
}

// waitAllowing is wait, but a task failing with one of the allowed codes counts as done
// (index_already_exists when creating an index that is there).
func (c *Client) waitAllowing(ctx context.Context, allowed []string, tasks ...Task) error {
	if len(tasks) == 0 {
		return nil
	}
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = strconv.FormatInt(t.id(), 10)
	}
	delay := c.cfg.TaskPoll
	deadline := time.Now().Add(c.cfg.TaskTimeout)
	for {
		var page struct {
			Results []Task `json:"results"`
		}
		q := url.Values{"uids": {strings.Join(ids, ",")}, "limit": {strconv.Itoa(len(ids))}}
		if err := c.do(ctx, http.MethodGet, "/tasks", q, nil, &page); err != nil {
			return err
		}
		done := 0
		for _, t := range page.Results {
			switch t.Status {
			case "succeeded":
				done++
			case "failed", "canceled":
				if t.Error != nil && contains(allowed, t.Error.Code) {
					done++
					continue
				}
				if t.Error != nil {
					return fmt.Errorf("meilisearch task %d (%s on %s) %s: %w", t.UID, t.Type, t.IndexUID, t.Status, t.Error)
				}
				return fmt.Errorf("meilisearch task %d (%s on %s) %s", t.UID, t.Type, t.IndexUID, t.Status)
			}
		}
		if done == len(ids) {
			return nil
		}
		if time.Now().After(deadline) {
			return markUnavailable(fmt.Errorf("meilisearch tasks %s not finished after %s", strings.Join(ids, ","), c.cfg.TaskTimeout))
		}
		if err := c.sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, time.Second)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Healthy asks GET /health; an error wraps ErrUnavailable.
func (c *Client) Healthy(ctx context.Context) error {
	var h struct {
		Status string `json:"status"`
	}
	if err := c.do(ctx, http.MethodGet, "/health", nil, nil, &h); err != nil {
		return err
	}
	if h.Status != "available" {
		return markUnavailable(fmt.Errorf("health is %q", h.Status))
	}
	return nil
}
