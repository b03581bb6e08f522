package app

import (
	"net/http"

	"github.com/xiadan/xiadan/internal/partners"
)

// partnerRoutes mounts the OAuth2 token endpoint where partner clients exchange their
// credentials for access tokens. Failures share the sign-in throttle (under their own keys).
func (a *App) partnerRoutes(mux *http.ServeMux) {
	mux.Handle("/oauth/token", partners.NewTokenHandler(a.DB.Client, a.Auth.Tokens, a.Auth.Throttle, a.Auth.MaxFailures, a.Logger))
}
