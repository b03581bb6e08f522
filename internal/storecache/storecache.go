// Package storecache answers repeated anonymous storefront queries (product lists and
// details, categories, merchants) from a cache, in process or in Redis, invalidated by
// the catalog change feed (internal/catalogfeed) so no replica serves an answer older
// than the changes it has read. See docs/CACHING.md.
package storecache

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// Modes of STOREFRONT_CACHE.
const (
	ModeOff    = "off"
	ModeMemory = "memory"
	ModeRedis  = "redis"
)

// Header is the response header that says how the cache treated a request: HIT (served
// from the cache, or from a concurrent identical request's answer), MISS (computed, and
// kept when cacheable) or BYPASS (not a cacheable request).
const Header = "X-Cache"

// Config is how the cache runs.
type Config struct {
	// Mode is ModeOff, ModeMemory or ModeRedis.
	Mode string
	// TTL bounds how long an answer is kept, and so how stale what the change feed does
	// not cover (sales counts, a promotion's start time passing) may be.
	TTL time.Duration
	// MaxEntries and MaxBytes bound the in-process store.
	MaxEntries int
	MaxBytes   int
	// Prefix starts every Redis key.
	Prefix string
	// LockTTL is how long a replica computing a missing answer holds the Redis lock that
	// makes the other replicas wait for it rather than compute it too.
	LockTTL time.Duration
	// MaxBodyBytes is the largest request body read to build a key (larger: bypassed).
	MaxBodyBytes int64
}

// CacheableFields are the root query fields whose anonymous answers depend only on the
// catalog the change feed covers. An operation is cached only when all its root fields
// are here. node and nodes are not: they reach types the feed does not cover.
var CacheableFields = []string{"products", "product", "productBySlug", "categories", "categoryBySlug",
	"merchants", "merchant", "merchantBySlug", "__typename"}

// Stats are the cache's counters since the process started.
type Stats struct {
	// Hits were answered from the store; Coalesced from a concurrent identical request's
	// answer (in process, or across replicas through the Redis lock).
	Hits, Coalesced int64
	// Misses found nothing; Stale found an answer of an older generation (invalidated).
	Misses, Stale int64
	// Executions ran the query for a cacheable request (misses that waited for another
	// request's answer did not); Fills stored a computed answer; Bypassed were not cacheable requests; Errors are
	// store failures (Redis down: answered without the cache).
	Executions, Fills, Bypassed, Errors int64
}

// HitRatio is (hits + coalesced) / cacheable lookups.
func (s Stats) HitRatio() float64 {
	n := s.Hits + s.Coalesced + s.Misses + s.Stale
	if n == 0 {
		return 0
	}
	return float64(s.Hits+s.Coalesced) / float64(n)
}

// Cache is the storefront response cache.
type Cache struct {
	cfg        Config
	store      backend
	redis      *redis.Client // for the cross-replica lock, in ModeRedis
	generation func() string
	persisted  graphql.Cache[string]
	logger     *slog.Logger
	flight     flight

	mu      sync.Mutex
	lastGen string
	ops     map[string]bool // query hash → cacheable operation (parsed once)

	hits, coalesced, misses, stale, executions, fills, bypassed, errs atomic.Int64
	lastWarn                                                          atomic.Int64 // unix nanoseconds
}

// New returns a cache keyed by the generation that generation returns (the catalog
// feed's), or nil when cfg.Mode is off. rdb is required in ModeRedis. persisted resolves
// the hashes of persisted queries sent without their text.
func New(cfg Config, rdb *redis.Client, generation func() string, persisted graphql.Cache[string], logger *slog.Logger) (*Cache, error) {
	if cfg.TTL <= 0 {
		cfg.TTL = 30 * time.Second
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10000
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 64 << 20
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = 5 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "xiadan:sc:"
	}
	c := &Cache{cfg: cfg, generation: generation, persisted: persisted, logger: logger, ops: map[string]bool{}}
	switch cfg.Mode {
	case ModeOff, "":
		return nil, nil
	case ModeMemory:
		c.store = newMemory(cfg.MaxEntries, cfg.MaxBytes)
	case ModeRedis:
		if rdb == nil {
			return nil, errors.New("storecache: redis mode needs REDIS_URL")
		}
		c.redis = rdb
		c.store = redisStore{client: rdb, prefix: cfg.Prefix + "v:"}
	default:
		return nil, fmt.Errorf("storecache: unknown mode %q (off, memory or redis)", cfg.Mode)
	}
	return c, nil
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	return Stats{Hits: c.hits.Load(), Coalesced: c.coalesced.Load(), Misses: c.misses.Load(),
		Stale: c.stale.Load(), Executions: c.executions.Load(), Fills: c.fills.Load(), Bypassed: c.bypassed.Load(), Errors: c.errs.Load()}
}

// answer is a complete response kept by the cache: what identifies the request's
// generation, and what is replayed byte for byte.
type answer struct {
	gen         string
	contentType string
	body        []byte
	cacheable   bool
	// written says the request that computed the answer has been answered with it.
	written bool
}

// encode lays an answer out as gen \n content-type \n body.
func (a *answer) encode() []byte {
	out := make([]byte, 0, len(a.gen)+len(a.contentType)+2+len(a.body))
	out = append(out, a.gen...)
	out = append(out, '\n')
	out = append(out, a.contentType...)
	out = append(out, '\n')
	return append(out, a.body...)
}

func decode(b []byte) (*answer, bool) {
	gen, rest, ok := bytes.Cut(b, []byte{'\n'})
	if !ok {
		return nil, false
	}
	ct, body, ok := bytes.Cut(rest, []byte{'\n'})
	if !ok {
		return nil, false
	}
	return &answer{gen: string(gen), contentType: string(ct), body: body, cacheable: true}, true
}

// Middleware serves cacheable requests from the cache and passes every other request to
// next untouched. It must run before authentication decides anything (it looks at the
// Authorization header itself) and inside the CORS and HTTP caching layers, so their
// headers are computed on a cached answer as on a fresh one.
func (c *Cache) Middleware(next http.Handler) http.Handler {
	if c == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := c.key(r)
		if !ok {
			c.bypassed.Add(1)
			w.Header().Set(Header, "BYPASS")
			next.ServeHTTP(w, r)
			return
		}
		c.serve(w, r, key, next)
	})
}

func (c *Cache) serve(w http.ResponseWriter, r *http.Request, key string, next http.Handler) {
	ctx := r.Context()
	// Read before computing: an answer computed from data older than a change the feed
	// reads meanwhile is kept under the older generation, which no later request asks for.
	gen := c.generation()
	if gen == "" { // the feed is not running, or failing: nothing can be trusted
		c.bypassed.Add(1)
		w.Header().Set(Header, "BYPASS")
		next.ServeHTTP(w, r)
		return
	}
	c.observe(gen)
	if a, found := c.lookup(ctx, key, gen); found {
		c.hits.Add(1)
		c.write(w, a, "HIT")
		return
	}
	a, shared, err := c.flight.do(ctx, gen+"|"+key, func() *answer {
		unlock, held := c.lock(ctx, key, gen)
		if !held { // another replica computes it: wait for its answer
			if a := c.waitForOther(ctx, key, gen); a != nil {
				return a
			}
			unlock, _ = c.lock(ctx, key, gen)
		}
		defer unlock()
		// Another replica may have stored the answer and let go of the lock between our
		// lookup and our lock: read again before computing.
		if a, ok := c.recheck(ctx, key, gen); ok {
			return a
		}
		return c.compute(w, r, key, gen, next)
	})
	switch {
	case err != nil: // the request ended while waiting
		return
	case !shared && a != nil && a.written: // computed by this request, and answered
		return
	case a != nil && a.cacheable: // another request's answer, here or on another replica
		c.coalesced.Add(1)
		c.write(w, a, "HIT")
		return
	}
	// The answer we waited for cannot be shared (an error): compute our own.
	rec := newRecorder(w.Header())
	c.executions.Add(1)
	next.ServeHTTP(rec, r)
	w.Header().Set(Header, "MISS")
	rec.flushTo(w)
}

// observe empties the in-process store when the generation moves: nothing in it can be
// served any more.
func (c *Cache) observe(gen string) {
	c.mu.Lock()
	moved := c.lastGen != gen
	c.lastGen = gen
	c.mu.Unlock()
	if moved && c.redis == nil {
		c.store.purge()
	}
}

// lookup reads key and counts a miss, a stale entry or a store error.
func (c *Cache) lookup(ctx context.Context, key, gen string) (*answer, bool) {
	raw, ok, err := c.store.get(ctx, key)
	if err != nil {
		c.storeFailed(ctx, "reading", err)
		return nil, false
	}
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	a, ok := decode(raw)
	if !ok || a.gen != gen {
		c.stale.Add(1)
		return nil, false
	}
	return a, true
}

// recheck reads key again, without counting, once the lock is held (only shared
// stores can have been filled by another replica meanwhile).
func (c *Cache) recheck(ctx context.Context, key, gen string) (*answer, bool) {
	if c.redis == nil {
		return nil, false
	}
	raw, ok, err := c.store.get(ctx, key)
	if err != nil || !ok {
		return nil, false
	}
	a, ok := decode(raw)
	if !ok || a.gen != gen {
		return nil, false
	}
	return a, true
}

// storeFailed counts a store error and logs it, at most once per 10 seconds (Redis being
// down must not flood the log with one line per request).
func (c *Cache) storeFailed(ctx context.Context, what string, err error) {
	c.errs.Add(1)
	now := time.Now().UnixNano()
	last := c.lastWarn.Load()
	if now-last < int64(10*time.Second) || !c.lastWarn.CompareAndSwap(last, now) {
		return
	}
	c.logger.WarnContext(ctx, "storefront cache: "+what+" the store; answering without it", "err", err)
}

// compute runs the request, writes its answer to w and keeps it when cacheable.
func (c *Cache) compute(w http.ResponseWriter, r *http.Request, key, gen string, next http.Handler) *answer {
	ctx := r.Context()
	rec := newRecorder(w.Header())
	c.executions.Add(1)
	next.ServeHTTP(rec, r)
	a := &answer{gen: gen, contentType: rec.header.Get("Content-Type"), body: rec.body.Bytes()}
	a.cacheable = rec.status == http.StatusOK && isJSON(a.contentType) && !hasErrors(a.body)
	if a.cacheable {
		if err := c.store.set(ctx, key, a.encode(), c.cfg.TTL); err != nil {
			c.storeFailed(ctx, "writing", err)
		} else {
			c.fills.Add(1)
		}
	}
	w.Header().Set(Header, "MISS")
	rec.flushTo(w)
	a.written = true
	return a
}

// lock takes the Redis lock of key for this generation and reports whether it did:
// false means another replica holds it (and computes the answer). The returned function
// releases it. Without Redis, or when Redis fails, there is no lock to take: held is
// true and the caller computes.
func (c *Cache) lock(ctx context.Context, key, gen string) (unlock func(), held bool) {
	if c.redis == nil {
		return func() {}, true
	}
	token := randomToken()
	lk := c.cfg.Prefix + "l:" + gen + ":" + key
	ok, err := c.redis.SetNX(ctx, lk, token, c.cfg.LockTTL).Result()
	if err != nil {
		c.errs.Add(1)
		return func() {}, true
	}
	if !ok {
		return func() {}, false
	}
	return func() {
		// Only our own lock: it may have expired and been taken by another.
		_ = unlockScript.Run(context.WithoutCancel(ctx), c.redis, []string{lk}, token).Err()
	}, true
}

var unlockScript = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`)

// waitForOther waits, while another replica holds key's lock for gen, for its answer to
// appear in Redis, and returns it (nil when the lock went away without one, or after
// LockTTL).
func (c *Cache) waitForOther(ctx context.Context, key, gen string) *answer {
	lk := c.cfg.Prefix + "l:" + gen + ":" + key
	deadline := time.Now().Add(c.cfg.LockTTL)
	for {
		if raw, ok, err := c.store.get(ctx, key); err == nil && ok {
			if a, ok := decode(raw); ok && a.gen == gen {
				return a
			}
		}
		n, err := c.redis.Exists(ctx, lk).Result()
		if err != nil || n == 0 || time.Now().After(deadline) {
			// Gone: its holder stored an answer just now, or failed.
			if raw, ok, err := c.store.get(ctx, key); err == nil && ok {
				if a, ok := decode(raw); ok && a.gen == gen {
					return a
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (c *Cache) write(w http.ResponseWriter, a *answer, status string) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set(Header, status)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.body)
}

// params are the parts of a GraphQL request that choose its answer.
type params struct {
	Query         string          `json:"query"`
	OperationName string          `json:"operationName"`
	Variables     json.RawMessage `json:"variables"`
	Extensions    json.RawMessage `json:"extensions"`
}

// key returns the cache key of a cacheable request, and whether it is one: an anonymous
// query (no Authorization, no stream token, not an upgrade) for one JSON answer, whose
// operation reads only CacheableFields.
func (c *Cache) key(r *http.Request) (string, bool) {
	if r.Header.Get("Authorization") != "" || r.Header.Get("X-GraphQL-Event-Stream-Token") != "" ||
		r.Header.Get("Upgrade") != "" {
		return "", false
	}
	accept := r.Header.Get("Accept")
	if strings.Contains(accept, "text/event-stream") || strings.Contains(accept, "multipart/") {
		return "", false
	}
	var p params
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		for k := range q {
			if !slices.Contains([]string{"query", "operationName", "variables", "extensions"}, k) {
				return "", false
			}
		}
		p.Query, p.OperationName = q.Get("query"), q.Get("operationName")
		p.Variables, p.Extensions = json.RawMessage(q.Get("variables")), json.RawMessage(q.Get("extensions"))
	case http.MethodPost:
		if r.URL.RawQuery != "" || !isJSON(r.Header.Get("Content-Type")) || r.ContentLength > c.cfg.MaxBodyBytes {
			return "", false
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, c.cfg.MaxBodyBytes+1))
		// Whatever was read goes back, for the handler to read (and refuse) as before.
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		if err != nil || int64(len(body)) > c.cfg.MaxBodyBytes || json.Unmarshal(body, &p) != nil {
			return "", false
		}
	default:
		return "", false
	}
	hash, ok := c.queryHash(r.Context(), &p)
	if !ok || !c.cacheableOperation(hash, p.Query, p.OperationName) {
		return "", false
	}
	vars, ok := canonical(p.Variables)
	if !ok {
		return "", false
	}
	h := sha256.New()
	for _, part := range []string{hash, p.OperationName, vars, strings.ToLower(strings.TrimSpace(r.Header.Get("Accept-Language"))), accept} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// queryHash returns the SHA-256 of the request's query and fills in the text of a
// persisted query sent by hash alone.
func (c *Cache) queryHash(ctx context.Context, p *params) (string, bool) {
	if p.Query != "" {
		sum := sha256.Sum256([]byte(p.Query))
		return hex.EncodeToString(sum[:]), true
	}
	var ext struct {
		PersistedQuery struct {
			Sha256Hash string `json:"sha256Hash"`
		} `json:"persistedQuery"`
	}
	if len(p.Extensions) == 0 || json.Unmarshal(p.Extensions, &ext) != nil || ext.PersistedQuery.Sha256Hash == "" || c.persisted == nil {
		return "", false
	}
	q, ok := c.persisted.Get(ctx, ext.PersistedQuery.Sha256Hash)
	if !ok {
		return "", false // the server will answer PERSISTED_QUERY_NOT_FOUND
	}
	p.Query = q
	return ext.PersistedQuery.Sha256Hash, true
}

// cacheableOperation reports whether the named operation of query is a query made of
// CacheableFields only (remembered per query hash).
func (c *Cache) cacheableOperation(hash, query, name string) bool {
	k := hash + "|" + name
	c.mu.Lock()
	v, ok := c.ops[k]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = cacheableDocument(query, name)
	c.mu.Lock()
	if len(c.ops) > 10000 {
		clear(c.ops)
	}
	c.ops[k] = v
	c.mu.Unlock()
	return v
}

func cacheableDocument(query, name string) bool {
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return false
	}
	var op *ast.OperationDefinition
	switch {
	case name != "":
		op = doc.Operations.ForName(name)
	case len(doc.Operations) == 1:
		op = doc.Operations[0]
	}
	if op == nil || op.Operation != ast.Query {
		return false
	}
	return rootFieldsCacheable(doc, op.SelectionSet, 0)
}

func rootFieldsCacheable(doc *ast.QueryDocument, set ast.SelectionSet, depth int) bool {
	if depth > 10 {
		return false
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if !slices.Contains(CacheableFields, s.Name) {
				return false
			}
		case *ast.InlineFragment:
			if !rootFieldsCacheable(doc, s.SelectionSet, depth+1) {
				return false
			}
		case *ast.FragmentSpread:
			f := doc.Fragments.ForName(s.Name)
			if f == nil || !rootFieldsCacheable(doc, f.SelectionSet, depth+1) {
				return false
			}
		}
	}
	return true
}

// canonical re-encodes variables with sorted keys, so the same values make the same key.
func canonical(raw json.RawMessage) (string, bool) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "null", true
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", false
	}
	out, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(out), true
}

func isJSON(contentType string) bool {
	ct := strings.ToLower(contentType)
	return strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "application/graphql-response+json")
}

// hasErrors reports whether a GraphQL response has an "errors" member (or is not one).
func hasErrors(body []byte) bool {
	var resp struct {
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return true
	}
	return len(resp.Errors) > 0 && string(resp.Errors) != "null"
}

func randomToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// recorder holds a response until it is complete. It writes into its own header map
// (a copy of the caller's) so a follower request can replay it.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func newRecorder(h http.Header) *recorder {
	return &recorder{header: h.Clone(), status: http.StatusOK}
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	return r.body.Write(p)
}

// flushTo writes the held response to w, with every header the handler set.
func (r *recorder) flushTo(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body.Bytes())
}

// Describe is a one-line summary for the start-up log.
func (c *Cache) Describe() string {
	if c == nil {
		return ModeOff
	}
	return fmt.Sprintf("%s ttl=%s", c.cfg.Mode, c.cfg.TTL)
}
