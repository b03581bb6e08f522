package app_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/useridentity"
	"github.com/xiadan/xiadan/internal/apitest"
)

// TestPhoneCodeRaceSignsInOnce: five sign-ins with the same SMS code at once, over HTTP,
// on SQLite and MySQL at both isolation levels: exactly one gets a session, the others
// are told the code was used (BAD_USER_INPUT), and the number belongs to one account with
// one phone identity. (The code is spent by a conditional UPDATE whose rows affected
// decides; the account is created once.) Eight rounds: a client address may ask for ten
// codes an hour.
func TestPhoneCodeRaceSignsInOnce(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.NewReachable(t, d.URL(t))
			ctx := privacy.DecisionContext(context.Background(), privacy.Allow)
			for round := range 8 {
				local := fmt.Sprintf("1390000%04d", round)
				phone := "+86" + local
				sent := s.MustQuery("", requestCode, map[string]any{"p": local})
				var out struct {
					RequestPhoneCode struct{ VerificationID string }
				}
				sent.Decode(t, &out)
				code := s.PhoneCode(t, phone)
				var racers []apitest.Racer
				for range 5 {
					racers = append(racers, s.Request("", phoneSignIn, map[string]any{"i": map[string]any{
						"phone": local, "verificationID": out.RequestPhoneCode.VerificationID, "code": code}}))
				}
				outs := apitest.Race(racers...)
				if won := apitest.Successes(t, "sign-in", outs, "BAD_USER_INPUT"); won != 1 {
					t.Errorf("round %d: %d sign-ins with one code succeeded: %v", round, won, outs)
				}
				if n := s.DB.Client.UserIdentity.Query().Where(useridentity.OpenID(phone)).CountX(ctx); n != 1 {
					t.Errorf("round %d: %d identities for %s", round, n, phone)
				}
			}
		})
	}
}
