package onboarding_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent/auditlog"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/merchantinvitation"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/apitest"
)

// TestConcurrentOnboardingDecisions races the decisions of onboarding over the real
// handler, for many rounds, on SQLite and on MySQL at REPEATABLE READ and READ COMMITTED:
// an admin approving and rejecting one application at once, an admin restricting and
// suspending one merchant at once, a user applying twice at once, an invitation accepted
// while it is revoked, and one user accepting two shops' invitations at once. Exactly one
// decision wins each race (two status changes may both succeed, one after the other), the
// loser gets INVALID_STATE (or CONFLICT for a seat taken), and the audit log records only
// what happened, each change from the status it really left.
func TestConcurrentOnboardingDecisions(t *testing.T) {
	t.Parallel()
	rounds := 8
	if n, err := strconv.Atoi(os.Getenv("RACE_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			admin := s.NewAdmin(t, "ops@example.com")
			client, ctx := s.Client()
			audits := func(action string, target int) int {
				return client.AuditLog.Query().Where(auditlog.Action(action), auditlog.TargetID(target)).CountX(ctx)
			}
			for round := range rounds {
				t.Run(fmt.Sprintf("round %d", round+1), func(t *testing.T) {
					// Approve vs reject.
					applicant := s.Register(fmt.Sprintf("applicant%d@example.com", round), "Applicant")
					m := apply(t, s, applicant, fmt.Sprintf("shop-%d", round))
					outs := apitest.Race(
						s.Request(admin.AccessToken, `mutation($id: ID!) { reviewMerchant(id: $id, approve: true) { status } }`, map[string]any{"id": m}),
						s.Request(admin.AccessToken, `mutation($id: ID!) { reviewMerchant(id: $id, approve: false, reason: "licence unreadable") { status } }`, map[string]any{"id": m}),
					)
					if won := apitest.Successes(t, "review", outs, "INVALID_STATE"); won != 1 {
						t.Errorf("exactly one review wins, %d did", won)
					}
					mid, _ := strconv.Atoi(m)
					st := client.Merchant.GetX(ctx, mid).Status
					approved := outs[0].Code() == ""
					if (approved && st != merchant.StatusACTIVE) || (!approved && st != merchant.StatusREJECTED) {
						t.Errorf("merchant is %s after approve=%v won", st, approved)
					}
					if n := audits("merchant.approve", mid) + audits("merchant.reject", mid); n != 1 {
						t.Errorf("%d review entries in the audit log", n)
					}

					// Restrict vs suspend an approved merchant.
					if approved {
						outs := apitest.Race(
							s.Request(admin.AccessToken, `mutation($id: ID!) { setMerchantStatus(id: $id, status: RESTRICTED, reason: "late shipping") { status } }`, map[string]any{"id": m}),
							s.Request(admin.AccessToken, `mutation($id: ID!) { setMerchantStatus(id: $id, status: SUSPENDED, reason: "fraud report") { status } }`, map[string]any{"id": m}),
						)
						// Each change that succeeded was decided on the status it really
						// moved from: the audit log is one chain ending at the status.
						won := apitest.Successes(t, "set status", outs, "INVALID_STATE")
						entries := client.AuditLog.Query().
							Where(auditlog.Action("merchant.set_status"), auditlog.TargetID(mid)).
							Order(auditlog.ByID()).AllX(ctx)
						if won < 1 || len(entries) != won {
							t.Errorf("%d status changes succeeded, %d audit entries", won, len(entries))
						}
						from := "ACTIVE"
						for _, e := range entries {
							if e.Details["from"] != from {
								t.Errorf("audit entry from %v, the merchant was %s", e.Details["from"], from)
							}
							from, _ = e.Details["to"].(string)
						}
						if st := client.Merchant.GetX(ctx, mid).Status; string(st) != from {
							t.Errorf("merchant is %s, the audit log ends at %s", st, from)
						}
					}

					// One user applies twice at once: one shop.
					eager := s.Register(fmt.Sprintf("eager%d@example.com", round), "Eager")
					in := func(slug string) map[string]any { return map[string]any{"i": applyInput(slug)} }
					outs = apitest.Race(
						s.Request(eager.AccessToken, applyMutation, in(fmt.Sprintf("eager-a-%d", round))),
						s.Request(eager.AccessToken, applyMutation, in(fmt.Sprintf("eager-b-%d", round))),
					)
					if won := apitest.Successes(t, "apply twice", outs, "CONFLICT"); won != 1 {
						t.Errorf("exactly one application succeeds, %d did", won)
					}
					uid, _ := strconv.Atoi(eager.UserID)
					if n := client.Merchant.Query().Where(merchant.OwnerID(uid)).CountX(ctx); n != 1 {
						t.Errorf("the user owns %d merchants", n)
					}

					// Accept vs revoke one invitation; then one user, two shops' invitations.
					shopA := s.NewMerchant(t, fmt.Sprintf("shop-a-%d", round), merchant.StatusACTIVE)
					shopB := s.NewMerchant(t, fmt.Sprintf("shop-b-%d", round), merchant.StatusACTIVE)
					invitee := s.Register(fmt.Sprintf("invitee%d@example.com", round), "Invitee")
					s.VerifyEmail(t, invitee)
					invA := invite(t, s, shopA, invitee.Email)
					outs = apitest.Race(
						s.Request(invitee.AccessToken, `mutation($id: ID!) { acceptMerchantInvitation(id: $id) { id } }`, map[string]any{"id": invA}),
						s.Request(shopA.Owner.AccessToken, `mutation($id: ID!) { revokeMerchantInvitation(id: $id) { status } }`, map[string]any{"id": invA}),
					)
					if won := apitest.Successes(t, "accept vs revoke", outs, "INVALID_STATE"); won != 1 {
						t.Errorf("exactly one of accept and revoke wins, %d did", won)
					}
					iid, _ := strconv.Atoi(invA)
					invStatus := client.MerchantInvitation.GetX(ctx, iid).Status
					inviteeID, _ := strconv.Atoi(invitee.UserID)
					joined := client.User.Query().Where(user.ID(inviteeID), user.MerchantID(shopA.IntID)).ExistX(ctx)
					if (invStatus == merchantinvitation.StatusACCEPTED) != joined || invStatus == merchantinvitation.StatusPENDING {
						t.Errorf("invitation %s, joined %v", invStatus, joined)
					}
					if joined {
						return
					}
					invA = invite(t, s, shopA, invitee.Email)
					invB := invite(t, s, shopB, invitee.Email)
					outs = apitest.Race(
						s.Request(invitee.AccessToken, `mutation($id: ID!) { acceptMerchantInvitation(id: $id) { id } }`, map[string]any{"id": invA}),
						s.Request(invitee.AccessToken, `mutation($id: ID!) { acceptMerchantInvitation(id: $id) { id } }`, map[string]any{"id": invB}),
					)
					if won := apitest.Successes(t, "two invitations", outs, "CONFLICT"); won != 1 {
						t.Errorf("exactly one invitation is accepted, %d were", won)
					}
					accepted := client.MerchantInvitation.Query().
						Where(merchantinvitation.EmailEQ(invitee.Email), merchantinvitation.StatusEQ(merchantinvitation.StatusACCEPTED)).CountX(ctx)
					if accepted != 1 {
						t.Errorf("%d invitations accepted", accepted)
					}
				})
			}
		})
	}
}

func applyInput(slug string) map[string]any {
	return map[string]any{"name": "Shop " + slug, "slug": slug, "contactName": "店主", "contactPhone": "13800000000",
		"contactEmail": "shop@example.com", "licenceNumber": "91310000MA1FL8XQ37", "legalName": "上海茶语轩贸易有限公司"}
}

const applyMutation = `mutation($i: ApplyForMerchantInput!) { applyForMerchant(input: $i) { id } }`

func apply(t *testing.T, s *apitest.Server, who apitest.Session, slug string) string {
	t.Helper()
	r, err := s.Try(apitest.Request{Token: who.AccessToken, Query: applyMutation, Variables: map[string]any{"i": applyInput(slug)}})
	if err != nil || len(r.Errors) > 0 {
		t.Fatalf("apply: %v %s", err, r.Raw)
	}
	var out struct{ ApplyForMerchant struct{ ID string } }
	r.Decode(t, &out)
	return out.ApplyForMerchant.ID
}

func invite(t *testing.T, s *apitest.Server, m apitest.Merchant, email string) string {
	t.Helper()
	r, err := s.Try(apitest.Request{Token: m.Owner.AccessToken, Query: `mutation($m: ID!, $e: String!) { inviteMerchantStaff(merchantID: $m, email: $e) { id } }`,
		Variables: map[string]any{"m": m.ID, "e": email}})
	if err != nil || len(r.Errors) > 0 {
		t.Fatalf("invite: %v %s", err, r.Raw)
	}
	var out struct{ InviteMerchantStaff struct{ ID string } }
	r.Decode(t, &out)
	return out.InviteMerchantStaff.ID
}
