package app

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/xiadan/xiadan/internal/database"
)

// readyz answers /readyz: 200 when the database can serve the API, 503 with the reason
// (database_unreachable, schema_incomplete, migrations_pending) when it cannot, after
// database.Ready. A probe polls it every few seconds, so a change of state is logged once
// rather than at every poll.
func (a *App) readyz() http.HandlerFunc {
	var (
		mu   sync.Mutex
		last string // the reason of the last answer, "" when ready (as at start, after migrating)
	)
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), a.Config.ReadyTimeout)
		defer cancel()
		err := a.DB.Ready(ctx)
		reason := ""
		if err != nil {
			reason = database.NotReachable
			var nr *database.NotReadyError
			if errors.As(err, &nr) {
				reason = nr.Reason
			}
		}
		mu.Lock()
		changed := reason != last
		last = reason
		mu.Unlock()
		if changed && err != nil {
			a.Logger.WarnContext(ctx, "not ready", "err", err)
		} else if changed {
			a.Logger.InfoContext(ctx, "ready again")
		}
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": reason})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}
