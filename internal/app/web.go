package app

import (
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"

	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/cors"
	"github.com/xiadan/xiadan/internal/persisted"
)

// web is what the browser-facing HTTP layer needs besides the GraphQL handler: the CORS
// policy and the persisted-query store (docs in the README, "Browsers, CORS and caching").
type web struct {
	cors *cors.Policy
	// queries holds automatic persisted queries: in Redis when REDIS_URL is set, so every
	// replica knows a query registered through any of them; in process otherwise.
	queries graphql.Cache[string]
	// redis is the client of REDIS_URL, or nil.
	redis *redis.Client
}

func newWeb(cfg config.Config, logger *slog.Logger) (web, error) {
	policy, err := cors.New(cfg.CORS)
	if err != nil {
		return web{}, err
	}
	w := web{cors: policy, queries: persisted.NewLocal(1000)}
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return web{}, fmt.Errorf("REDIS_URL: %w", err)
		}
		w.redis = redis.NewClient(opts)
		w.queries = persisted.NewRedis(w.redis, persisted.DefaultTTL, logger)
	}
	return w, nil
}
