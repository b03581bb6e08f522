// Package persisted stores automatic persisted queries (APQ): the query texts clients
// registered by their SHA-256 hash, so that later requests — GET requests a CDN can cache
// among them — send only the hash. With Redis the store is shared by every replica (a
// query registered through one is known to all); without, each process keeps its own.
package persisted

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/go-viper/mapstructure/v2"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// ReasonHashMismatch is the extensions.reason of a query sent with a hash that is not
// its SHA-256 (extensions.code BAD_USER_INPUT).
const ReasonHashMismatch = "PERSISTED_QUERY_HASH_MISMATCH"

// CodeNotFound is the extensions.code of a hash the store does not know, the one Apollo
// Client, urql and graphql-http clients look for before they resend the query in full.
const CodeNotFound = "PERSISTED_QUERY_NOT_FOUND"

// Extension is gqlgen's AutomaticPersistedQuery over cache, with a hash mismatch
// reported as BAD_USER_INPUT with reason PERSISTED_QUERY_HASH_MISMATCH (gqlgen gives it
// no code). "Not found" keeps gqlgen's answer: message PersistedQueryNotFound, code
// PERSISTED_QUERY_NOT_FOUND.
type Extension struct {
	Cache graphql.Cache[string]
}

var _ interface {
	graphql.OperationParameterMutator
	graphql.HandlerExtension
} = Extension{}

// ExtensionName names the extension for gqlgen.
func (Extension) ExtensionName() string { return "AutomaticPersistedQuery" }

// Validate checks the extension when the handler starts.
func (e Extension) Validate(schema graphql.ExecutableSchema) error {
	return extension.AutomaticPersistedQuery{Cache: e.Cache}.Validate(schema)
}

// MutateOperationParameters looks the query of a hash up, or registers a query sent
// with its hash.
func (e Extension) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query != "" && p.Extensions["persistedQuery"] != nil {
		var ext struct {
			Sha256 string `mapstructure:"sha256Hash"`
		}
		if mapstructure.Decode(p.Extensions["persistedQuery"], &ext) == nil && ext.Sha256 != Hash(p.Query) {
			return &gqlerror.Error{Message: "the persisted query hash (extensions.persistedQuery.sha256Hash) is not the SHA-256 of the query",
				Extensions: map[string]any{"code": "BAD_USER_INPUT", "reason": ReasonHashMismatch, "field": "extensions.persistedQuery.sha256Hash"}}
		}
	}
	return extension.AutomaticPersistedQuery{Cache: e.Cache}.MutateOperationParameters(ctx, p)
}

// Hash is the hex SHA-256 of a query, as APQ clients compute it.
func Hash(query string) string {
	sum := sha256.Sum256([]byte(query))
	return hex.EncodeToString(sum[:])
}

// NewLocal returns an in-process store of the size most recent queries.
func NewLocal(size int) graphql.Cache[string] { return lru.New[string](size) }

// DefaultTTL is how long Redis keeps a query nobody has used: a client asking for an
// expired one is told PERSISTED_QUERY_NOT_FOUND and registers it again.
const DefaultTTL = 24 * time.Hour

// KeyPrefix comes before the hash in Redis keys. Deployments may share a Redis server:
// a hash names one query text whoever stored it.
const KeyPrefix = "xiadan:apq:"

// Redis is a store shared through Redis, with an in-process copy of recently used
// queries in front (a hash always names the same text, so the copy is never stale).
// Redis being down is not an error for the caller: a lookup misses (the client resends
// the query) and a registration is only kept locally; both are logged.
type Redis struct {
	client *redis.Client
	ttl    time.Duration
	local  *lru.LRU[string]
	logger *slog.Logger
}

// NewRedis returns a store in client's Redis, keeping queries for ttl after their last
// registration or use.
func NewRedis(client *redis.Client, ttl time.Duration, logger *slog.Logger) *Redis {
	return &Redis{client: client, ttl: ttl, local: lru.New[string](1000), logger: logger}
}

// Get returns the query of a hash.
func (r *Redis) Get(ctx context.Context, hash string) (string, bool) {
	if q, ok := r.local.Get(ctx, hash); ok {
		return q, true
	}
	// GETEX refreshes the expiry of a query in use (Redis 6.2 and later).
	q, err := r.client.GetEx(ctx, KeyPrefix+hash, r.ttl).Result()
	if err != nil {
		if err != redis.Nil {
			r.logger.WarnContext(ctx, "persisted queries: reading Redis", "err", err)
		}
		return "", false
	}
	if Hash(q) != hash { // not ours, or damaged: never run a text under another's hash
		return "", false
	}
	r.local.Add(ctx, hash, q)
	return q, true
}

// Add registers the query of a hash (gqlgen has checked the hash).
func (r *Redis) Add(ctx context.Context, hash, query string) {
	r.local.Add(ctx, hash, query)
	if err := r.client.Set(ctx, KeyPrefix+hash, query, r.ttl).Err(); err != nil {
		r.logger.WarnContext(ctx, "persisted queries: writing Redis", "err", err)
	}
}
