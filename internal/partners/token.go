package partners

import (
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/apiclient"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/viewer"
)

// maxTokenRequest caps a token request body; a valid one is a few hundred bytes.
const maxTokenRequest = 4 << 10

// TokenHandler is the OAuth2 token endpoint for the client-credentials grant (RFC 6749
// §4.4): a partner sends its client id and secret and gets a short-lived access token for
// the API, acting for its merchants within its scopes.
type TokenHandler struct {
	Client *ent.Client
	Tokens *auth.TokenIssuer
	// Throttle slows down repeated failures per client id (and per client address, four
	// times as lenient, when the request context carries one).
	Throttle    *auth.Throttle
	MaxFailures int
	Logger      *slog.Logger

	dummy string
}

// NewTokenHandler returns the token endpoint. It issues tokens with tokens, reads clients
// from client, and throttles failures with throttle (which may be shared with sign-in:
// its keys here have their own prefix).
func NewTokenHandler(client *ent.Client, tokens *auth.TokenIssuer, throttle *auth.Throttle, maxFailures int, logger *slog.Logger) *TokenHandler {
	return &TokenHandler{Client: client, Tokens: tokens, Throttle: throttle, MaxFailures: maxFailures, Logger: logger,
		dummy: HashSecret("not a real secret, only spends time")}
}

// tokenResponse is the successful answer (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

// oauthError is an error answer (RFC 6749 §5.2).
type oauthError struct {
	status      int
	retryAfter  int    // seconds, for a throttled request
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func failure(status int, code, description string) *oauthError {
	return &oauthError{status: status, Code: code, Description: description}
}

var errBadClient = failure(http.StatusUnauthorized, "invalid_client", "unknown client, wrong secret or revoked client")

// ServeHTTP answers one token request.
func (h *TokenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Tokens and errors alike must not be cached (RFC 6749 §5.1).
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	res, oerr := h.serve(w, r)
	if oerr != nil {
		if oerr.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="xiadan", charset="UTF-8"`)
		}
		if oerr.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(oerr.retryAfter))
		}
		writeJSON(w, oerr.status, oerr)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h *TokenHandler) serve(w http.ResponseWriter, r *http.Request) (*tokenResponse, *oauthError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, failure(http.StatusMethodNotAllowed, "invalid_request", "use POST")
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil, failure(http.StatusBadRequest, "invalid_request", "send the parameters as application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequest)
	if err := r.ParseForm(); err != nil {
		return nil, failure(http.StatusBadRequest, "invalid_request", "the request body is not a valid form")
	}
	// A secret in the URL ends up in access logs and proxies; refuse it outright.
	if q := r.URL.Query(); q.Has("client_secret") || q.Has("client_id") {
		return nil, failure(http.StatusBadRequest, "invalid_request", "send credentials in the body or in HTTP Basic authentication, never in the URL")
	}
	form := r.PostForm
	for k, vs := range form {
		if len(vs) > 1 {
			return nil, failure(http.StatusBadRequest, "invalid_request", "parameter "+k+" is repeated")
		}
	}
	switch grant := form.Get("grant_type"); grant {
	case "client_credentials":
	case "":
		return nil, failure(http.StatusBadRequest, "invalid_request", "grant_type is required")
	default:
		return nil, failure(http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
	}
	id, secret, oerr := credentials(r, form)
	if oerr != nil {
		return nil, oerr
	}
	c, oerr := h.authenticate(r, id, secret)
	if oerr != nil {
		return nil, oerr
	}
	scopes := c.Scopes
	if requested := strings.Fields(form.Get("scope")); len(requested) > 0 {
		scopes = nil
		for _, s := range Scopes {
			if slices.Contains(requested, s) && slices.Contains(c.Scopes, s) {
				scopes = append(scopes, s)
			}
		}
		for _, s := range requested {
			if !slices.Contains(scopes, s) {
				return nil, failure(http.StatusBadRequest, "invalid_scope", "the client does not hold scope "+strconv.Quote(s))
			}
		}
	}
	token, _, err := h.Tokens.IssuePartner(c.ClientID, scopes, c.MerchantIds, auth.SecretVersion(c.SecretRotatedAt))
	if err != nil {
		return nil, h.internal(r, err)
	}
	return &tokenResponse{AccessToken: token, TokenType: "Bearer",
		ExpiresIn: int(h.Tokens.TTL / time.Second), Scope: strings.Join(scopes, " ")}, nil
}

// credentials reads the client id and secret from HTTP Basic authentication or the form;
// a client uses one method, not both (RFC 6749 §2.3).
func credentials(r *http.Request, form url.Values) (id, secret string, oerr *oauthError) {
	user, pass, basic := r.BasicAuth()
	inForm := form.Has("client_secret")
	switch {
	case basic && inForm:
		return "", "", failure(http.StatusBadRequest, "invalid_request", "use HTTP Basic authentication or client_secret in the body, not both")
	case basic:
		// Basic credentials are form-encoded before base64 (RFC 6749 §2.3.1).
		var err1, err2 error
		id, err1 = url.QueryUnescape(user)
		secret, err2 = url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return "", "", errBadClient
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return "", "", failure(http.StatusBadRequest, "invalid_request", "client_id differs from the HTTP Basic user")
		}
	case inForm:
		id, secret = form.Get("client_id"), form.Get("client_secret")
	default:
		return "", "", failure(http.StatusUnauthorized, "invalid_client", "authenticate with HTTP Basic (client id and secret) or client_id and client_secret in the body")
	}
	if id == "" || secret == "" || len(id) > 64 || len(secret) > 128 {
		return "", "", errBadClient
	}
	return id, secret, nil
}

// authenticate checks a client's credentials. Failures count against the client id from
// that address, and against the address; past the limit every attempt from there, right
// or wrong, waits. Client ids are not secret, so failures from elsewhere never lock the
// real integration out (and a 238-bit secret needs no per-id brute-force limit). An
// address is an IPv6 /64 (auth.AddressKey), so one host cannot dodge the limit by
// stepping through its addresses.
func (h *TokenHandler) authenticate(r *http.Request, id, secret string) (*ent.ApiClient, *oauthError) {
	ctx := r.Context()
	ip := auth.AddressKey(auth.ClientFromContext(ctx).IP)
	idKey := "oauth-client:" + id + "@" + ip
	ipKey := "oauth-ip:" + ip
	wait := h.Throttle.Blocked(ctx, idKey)
	if ip != "" {
		wait = max(wait, h.Throttle.Blocked(ctx, ipKey))
	}
	if wait > 0 {
		// slow_down is the registered OAuth error for "ask less often" (RFC 8628 §3.5).
		secs := max(1, int(wait.Round(time.Second)/time.Second))
		oerr := failure(http.StatusTooManyRequests, "slow_down", "too many failed attempts; retry after "+strconv.Itoa(secs)+" seconds")
		oerr.retryAfter = secs
		return nil, oerr
	}
	c, err := h.Client.ApiClient.Query().Where(apiclient.ClientID(id)).Only(viewer.SystemContext(ctx))
	if err != nil && !ent.IsNotFound(err) {
		return nil, h.internal(r, err)
	}
	hash := h.dummy // an unknown client costs the same comparison as a known one
	if c != nil {
		hash = c.SecretHash
	}
	if !VerifySecret(hash, secret) || c == nil || c.RevokedAt != nil {
		h.Throttle.Fail(ctx, idKey, h.MaxFailures)
		if ip != "" {
			h.Throttle.Fail(ctx, ipKey, 4*h.MaxFailures)
		}
		return nil, errBadClient
	}
	h.Throttle.Reset(ctx, idKey)
	return c, nil
}

func (h *TokenHandler) internal(r *http.Request, err error) *oauthError {
	id := audit.RequestID(r.Context())
	if h.Logger != nil {
		h.Logger.ErrorContext(r.Context(), "oauth token endpoint", "request_id", id, "err", err)
	}
	return failure(http.StatusInternalServerError, "server_error", "internal error; quote request id "+id)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
