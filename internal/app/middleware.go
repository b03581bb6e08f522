package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/xiadan/xiadan/internal/analytics/channel"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/viewer"
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestContext gives every request an id (kept from X-Request-ID when well-formed),
// records the client's address and agent, and logs the request when it ends.
func (a *App) requestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !requestIDPattern.MatchString(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-ID", id)
		ctx := audit.WithRequestID(r.Context(), id)
		ctx = auth.WithClient(ctx, auth.ClientInfo{IP: a.clientIP(r), UserAgent: r.UserAgent(), DeviceID: deviceID(r)})
		// Checkout records the channel on its orders (internal/analytics).
		ctx = channel.NewContext(ctx, r.Header.Get(channel.Header))
		// Sanctions end by the server's clock (internal/credit/standing).
		ctx = standing.WithClock(ctx, a.now)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		a.Logger.DebugContext(ctx, "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration_ms", time.Since(start).Milliseconds())
	})
}

var deviceIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,128}$`)

// deviceID is the X-Device-Id header when well-formed (8 to 128 letters, digits, . _ : -),
// "" otherwise: a device or visitor id the front end generates once and keeps, which the
// risk rules (internal/risk) count orders and accounts by.
func deviceID(r *http.Request) string {
	if id := r.Header.Get("X-Device-Id"); deviceIDPattern.MatchString(id) {
		return id
	}
	return ""
}

// clientIP is the caller's address: the first X-Forwarded-For hop behind a trusted proxy,
// the TCP peer otherwise.
func (a *App) clientIP(r *http.Request) string {
	if a.Config.TrustProxyHeaders {
		if fwd := r.Header.Get("X-Forwarded-For"); fwd != "" {
			first, _, _ := strings.Cut(fwd, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authenticate puts the viewer of the bearer token in the context. No header means an
// anonymous viewer; a bad token is refused with 401 and code UNAUTHENTICATED, so a client
// learns at once that it must refresh rather than silently browsing as anonymous.
func (a *App) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		token := bearer(h)
		if token == "" {
			writeError(w, http.StatusUnauthorized, apperror.New(apperror.Unauthenticated, "the Authorization header must be 'Bearer <access token>'"))
			return
		}
		v, err := a.Auth.Authenticate(r.Context(), token)
		if err != nil {
			var e *apperror.Error
			if errors.As(err, &e) {
				writeError(w, http.StatusUnauthorized, e)
				return
			}
			id := audit.RequestID(r.Context())
			a.Logger.ErrorContext(r.Context(), "authenticating request", "request_id", id, "err", err)
			writeError(w, http.StatusInternalServerError, &apperror.Error{Code: apperror.Internal,
				Message: "internal error; quote request id " + id, Extensions: map[string]any{"requestId": id}})
			return
		}
		ctx := viewer.NewContext(r.Context(), v)
		// A stream (GraphQL over SSE, an Apollo multipart subscription) ends when its
		// token expires, as a websocket connection does; the client resumes with a fresh
		// token and `after`. An operation on a reserved event stream outlives its request
		// and takes the expiry along (sse.go).
		if longLived(r) || r.Header.Get(streamTokenHeader) != "" || r.URL.Query().Has("token") {
			claims, err := a.Auth.Tokens.Verify(token)
			if err != nil || claims.ExpiresAt == nil {
				writeError(w, http.StatusUnauthorized, apperror.New(apperror.Unauthenticated, "invalid or expired access token"))
				return
			}
			ctx = context.WithValue(ctx, tokenExpiryKey{}, claims.ExpiresAt.Time)
			if longLived(r) {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, claims.ExpiresAt.Time)
				defer cancel()
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// tokenExpiryKey keys the expiry of the request's access token, when recorded.
type tokenExpiryKey struct{}

// tokenExpiry is when the request's access token expires, if the request is one that
// records it (see authenticate).
func tokenExpiry(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(tokenExpiryKey{}).(time.Time)
	return t, ok
}

// bearer extracts the token of an "Authorization: Bearer <token>" value.
func bearer(h string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// limitBody caps request bodies so an oversized query is refused before it is read; a
// body without a declared length is cut at the cap while it is read (transport.go).
func (a *App) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(MaxBodyBytes)
		if a.Config.Upload.Enabled && (multipartTransport{}).Supports(r) { // uploadFile (uploadform.go)
			limit = a.Config.Upload.MultipartMaxBytes
		}
		if r.ContentLength > limit {
			e := bodyTooLarge()
			if limit != MaxBodyBytes {
				e.limit = limit
				e.message = fmt.Sprintf("request body larger than %d bytes (UPLOAD_MULTIPART_MAX_BYTES); send larger files with createUpload", limit)
			}
			refuse(w, r, a.Logger, e)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// writeError writes a GraphQL-shaped error response outside the GraphQL executor.
func writeError(w http.ResponseWriter, status int, e *apperror.Error) {
	ext := map[string]any{"code": string(e.Code)}
	for k, v := range e.Extensions {
		ext[k] = v
	}
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"message": e.Message, "extensions": ext}}})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer (websocket hijacking).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush lets streaming transports (GraphQL over SSE) flush through the recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
