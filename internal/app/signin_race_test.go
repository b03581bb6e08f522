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

// TestUnlinkRaceKeepsAWayIn: an account with two ways in (a mini program and a phone)
// unlinks both at once, over HTTP, on SQLite and MySQL at both isolation levels: exactly
// one unlink succeeds, the other is INVALID_STATE, and the account keeps one identity.
// (Unlinks lock the user row first and count the ways in under that lock.)
func TestUnlinkRaceKeepsAWayIn(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.NewReachable(t, d.URL(t))
			for round := range 6 {
				sess := s.SignInMini(t, "WECHAT", fmt.Sprintf("unlink-%d", round))
				local := fmt.Sprintf("1370000%04d", round)
				var sent struct {
					RequestPhoneCode struct{ VerificationID string }
				}
				s.MustQuery("", requestCode, map[string]any{"p": local}).Decode(t, &sent)
				s.MustQuery(sess.AccessToken, linkPhone, map[string]any{"i": map[string]any{
					"phone": local, "verificationID": sent.RequestPhoneCode.VerificationID, "code": s.PhoneCode(t, "+86"+local)}})
				_, _, ids := identitiesOf(t, s, sess.AccessToken)
				if len(ids) != 2 {
					t.Fatalf("round %d: identities %+v", round, ids)
				}
				const unlink = `mutation($id: ID!) { unlinkIdentity(id: $id) { id } }`
				outs := apitest.Race(
					s.Request(sess.AccessToken, unlink, map[string]any{"id": ids[0].ID}),
					s.Request(sess.AccessToken, unlink, map[string]any{"id": ids[1].ID}))
				if won := apitest.Successes(t, "unlink", outs, "INVALID_STATE"); won != 1 {
					t.Errorf("round %d: %d unlinks succeeded: %v", round, won, outs)
				}
				if _, _, left := identitiesOf(t, s, sess.AccessToken); len(left) != 1 {
					t.Errorf("round %d: %d identities left", round, len(left))
				}
			}
		})
	}
}
