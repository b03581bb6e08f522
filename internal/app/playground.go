package app

import (
	"net/http"

	"github.com/xiadan/xiadan/internal/playground"
)

// playgroundHandler serves the GraphQL IDE, whose assets ship inside the binary.
func playgroundHandler() http.Handler {
	return playground.Handler(playground.Options{
		Title:                "Xiadan GraphQL playground",
		Endpoint:             "/graphql",
		SubscriptionEndpoint: "/graphql",
		DefaultTabs:          playground.DefaultExamples(),
	})
}
