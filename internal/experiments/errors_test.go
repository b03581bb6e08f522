package experiments_test

import (
	"testing"

	"github.com/xiadan/xiadan/ent/experiment"
	"github.com/xiadan/xiadan/internal/apitest"
)

// TestStartStopExperimentErrors drives the state machine's refusals over GraphQL, on
// SQLite and MySQL: start and stop are for admins (a customer FORBIDDEN, anonymous
// UNAUTHENTICATED), an unknown key is NOT_FOUND, stopping a DRAFT and starting a STOPPED
// experiment (which never runs again) are INVALID_STATE with extensions.currentState, and
// no refused call changes the status.
func TestStartStopExperimentErrors(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		admin := s.NewAdmin(t, "admin@example.com")
		buyer := s.Register("buyer@example.com", "Buyer")
		client, ctx := s.Client()
		status := func(key string) experiment.Status {
			t.Helper()
			return client.Experiment.Query().Where(experiment.Key(key)).OnlyX(ctx).Status
		}
		k := map[string]any{"k": "exp"}
		s.MustQuery(admin.AccessToken, createQ, twoArms("exp"))

		for _, q := range []struct{ name, query string }{{"start", startQ}, {"stop", stopQ}} {
			if r := s.Query(buyer.AccessToken, q.query, k); r.Code() != "FORBIDDEN" {
				t.Errorf("customer %ss: %s", q.name, r.Raw)
			}
			if r := s.Query("", q.query, k); r.Code() != "UNAUTHENTICATED" {
				t.Errorf("anonymous %ss: %s", q.name, r.Raw)
			}
			if r := s.Query(admin.AccessToken, q.query, map[string]any{"k": "nope"}); r.Code() != "NOT_FOUND" {
				t.Errorf("%s an unknown key: %s", q.name, r.Raw)
			}
		}
		// A DRAFT cannot be stopped.
		r := s.Query(admin.AccessToken, stopQ, k)
		if r.Code() != "INVALID_STATE" || r.Errors[0].Extensions["currentState"] != "DRAFT" {
			t.Errorf("stop a draft: %s", r.Raw)
		}
		if st := status("exp"); st != experiment.StatusDRAFT {
			t.Fatalf("refused calls moved the draft to %s", st)
		}

		// The customer cannot start a running one either; then stop it.
		s.MustQuery(admin.AccessToken, startQ, k)
		if r := s.Query(buyer.AccessToken, stopQ, k); r.Code() != "FORBIDDEN" {
			t.Errorf("customer stops a running experiment: %s", r.Raw)
		}
		s.MustQuery(admin.AccessToken, stopQ, k)

		// A STOPPED experiment never starts again.
		r = s.Query(admin.AccessToken, startQ, k)
		if r.Code() != "INVALID_STATE" || r.Errors[0].Extensions["currentState"] != "STOPPED" {
			t.Errorf("start a stopped experiment: %s", r.Raw)
		}
		if st := status("exp"); st != experiment.StatusSTOPPED {
			t.Errorf("the refused start moved the experiment to %s", st)
		}
	})
}
