package aftersales_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	entupload "github.com/xiadan/xiadan/ent/upload"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/config"
)

// TestAfterSalesDeadlines moves the injectable clock past each step's deadline and runs
// the job: a proposal is accepted (and refunded), an unescalated rejection closes, goods
// not shipped back close the request, and a return the merchant does not confirm is
// confirmed and refunded. Two jobs run at once (two replicas) move each request once.
func TestAfterSalesDeadlines(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		staff := w.shop.Owner.AccessToken
		jobs := func(t *testing.T) {
			t.Helper()
			outs := apitest.Race(
				func() (*apitest.Response, error) {
					_, err := s.App.AfterSales.RunJobsOnce(context.Background(), s.App.DB.Client)
					return &apitest.Response{}, err
				},
				func() (*apitest.Response, error) {
					_, err := s.App.AfterSales.RunJobsOnce(context.Background(), s.App.DB.Client)
					return &apitest.Response{}, err
				})
			for _, o := range outs {
				if o.Err != nil {
					t.Fatalf("job: %v", o.Err)
				}
			}
		}

		proposed := w.open(t, map[string]any{"orderID": w.paidOrder(t, false).ID, "type": "REFUND_ONLY", "reason": "QUALITY_ISSUE", "amount": "40.00"})
		w.step(t, staff, "proposeAfterSalesAmount", "id: $id, amount: $n, reason: $r", map[string]any{"id": proposed.ID, "n": "12.00", "r": "part"})
		rejected := w.open(t, map[string]any{"orderID": w.paidOrder(t, false).ID, "type": "REFUND_ONLY", "reason": "NOT_RECEIVED"})
		w.step(t, staff, "rejectAfterSales", "id: $id, reason: $r", map[string]any{"id": rejected.ID, "r": "it was delivered"})
		notReturned := w.open(t, map[string]any{"orderID": w.paidOrder(t, true).ID, "type": "RETURN_REFUND", "reason": "DAMAGED"})
		w.step(t, staff, "approveAfterSales", "id: $id", map[string]any{"id": notReturned.ID})
		returned := w.open(t, map[string]any{"orderID": w.paidOrder(t, true).ID, "type": "RETURN_REFUND", "reason": "DAMAGED", "amount": "30.00"})
		w.step(t, staff, "approveAfterSales", "id: $id", map[string]any{"id": returned.ID})
		w.step(t, w.buyer.AccessToken, "shipAfterSalesReturn", "id: $id, carrier: $c, trackingNumber: $n",
			map[string]any{"id": returned.ID, "c": "SF", "n": "SF9"})

		w.clock.Advance(71 * time.Hour) // within every window
		jobs(t)
		for _, id := range []string{proposed.ID, rejected.ID, notReturned.ID, returned.ID} {
			if r := w.read(t, staff, id); r.Status == "REFUNDED" || r.Status == "CLOSED" {
				t.Fatalf("request %s moved before its deadline: %s", r.Number, r.Status)
			}
		}
		w.clock.Advance(2 * time.Hour) // past the proposal window (72 h)
		jobs(t)
		if r := w.read(t, staff, proposed.ID); r.Status != "REFUNDED" || r.RefundedAmount.Amount != "12.00" {
			t.Errorf("proposal past its deadline: %s %s", r.Status, r.RefundedAmount.Amount)
		}
		w.clock.Advance(8 * 24 * time.Hour) // past the escalation, return and receipt windows
		jobs(t)
		for _, c := range []struct{ id, status, refunded, last string }{
			{rejected.ID, "CLOSED", "0.00", "CLOSED"},
			{notReturned.ID, "CLOSED", "0.00", "CLOSED"},
			{returned.ID, "REFUNDED", "30.00", "REFUNDED"},
		} {
			r := w.read(t, staff, c.id)
			if r.Status != c.status || r.RefundedAmount.Amount != c.refunded || r.DueAt != nil ||
				r.Timeline[len(r.Timeline)-1].Type != c.last || r.Timeline[len(r.Timeline)-1].ActorRole != "SYSTEM" {
				t.Errorf("request %s: %+v", r.Number, r)
			}
		}
		for _, id := range []string{proposed.ID, returned.ID} {
			client, ctx := s.Client()
			checkMoney(t, s, orderOf(t, client, ctx, id), mustAtoi(t, id))
		}
	})
}

// TestAfterSalesEvidence binds evidence uploads to a request and its messages: the
// customer, the merchant's staff and admins see them on the timeline; a stranger sees
// no request, and nobody binds someone else's upload.
func TestAfterSalesEvidence(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		client, ctx := s.Client()
		upload := func(owner string, purpose entupload.Purpose) string {
			uid := mustAtoi(t, owner)
			k := w.key("up")
			u, err := client.Upload.Create().SetOwnerID(uid).SetPurpose(purpose).SetState(entupload.StateREADY).
				SetFilename(k + ".jpg").SetContentType("image/jpeg").SetIncomingKey("in/" + k).SetStorageKey("st/" + k).
				SetExpiresAt(time.Now().Add(time.Hour)).Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return strconv.Itoa(u.ID)
		}
		o := w.paidOrder(t, true)
		photo := upload(w.buyer.UserID, entupload.PurposeAFTER_SALES_EVIDENCE)
		// Someone else's upload reads as missing; an upload of another purpose is refused.
		wantCode(t, w.try(w.buyer.AccessToken, "requestAfterSales", "input: $i", map[string]any{"i": map[string]any{
			"orderID": o.ID, "type": "REFUND_ONLY", "reason": "DAMAGED", "evidenceUploadIDs": []string{upload(w.other.UserID, entupload.PurposeAFTER_SALES_EVIDENCE)}}}),
			"NOT_FOUND", "evidenceUploadIDs[0]")
		wantCode(t, w.try(w.buyer.AccessToken, "requestAfterSales", "input: $i", map[string]any{"i": map[string]any{
			"orderID": o.ID, "type": "REFUND_ONLY", "reason": "DAMAGED", "evidenceUploadIDs": []string{upload(w.buyer.UserID, entupload.PurposeREVIEW_PHOTO)}}}),
			"BAD_USER_INPUT", "evidenceUploadIDs[0]")
		r := w.open(t, map[string]any{"orderID": o.ID, "type": "REFUND_ONLY", "reason": "DAMAGED", "evidenceUploadIDs": []string{photo}})
		staffPhoto := upload(w.shop.Owner.UserID, entupload.PurposeAFTER_SALES_EVIDENCE)
		w.step(t, w.shop.Owner.AccessToken, "rejectAfterSales", "id: $id, reason: $r, evidenceUploadIDs: $e",
			map[string]any{"id": r.ID, "r": "packed well, see photo", "e": []string{staffPhoto}})
		q := `query($id: ID!) { node(id: $id) { ... on AfterSalesRequest { timeline { type evidence { id filename } } } } }`
		for who, token := range map[string]string{"buyer": w.buyer.AccessToken, "merchant": w.shop.Owner.AccessToken, "admin": w.admin} {
			var out struct {
				Node *struct {
					Timeline []struct {
						Type     string
						Evidence []struct{ ID string }
					}
				}
			}
			w.must(t, token, q, map[string]any{"id": r.ID}, &out)
			if out.Node == nil || len(out.Node.Timeline) != 2 || len(out.Node.Timeline[0].Evidence) != 1 ||
				out.Node.Timeline[0].Evidence[0].ID != photo || len(out.Node.Timeline[1].Evidence) != 1 ||
				out.Node.Timeline[1].Evidence[0].ID != staffPhoto {
				t.Errorf("%s sees %+v", who, out.Node)
			}
		}
		if raw := w.s.Query(w.other.AccessToken, q, map[string]any{"id": r.ID}); !strings.Contains(string(raw.Raw), `"node":null`) {
			t.Errorf("a stranger reads %s", raw.Raw)
		}
		// A bound upload cannot be used again elsewhere.
		o2 := w.paidOrder(t, false)
		r2 := w.s.Query(w.buyer.AccessToken, `mutation($i: RequestAfterSalesInput!) { requestAfterSales(input: $i) { id } }`,
			map[string]any{"i": map[string]any{"orderID": o2.ID, "type": "REFUND_ONLY", "reason": "DAMAGED", "evidenceUploadIDs": []string{photo}}})
		if r2.Code() == "" {
			t.Errorf("an upload bound to one request was bound to another: %s", r2.Raw)
		}
	})
}

// TestAfterSalesConfig refuses deadlines that cannot work, naming the setting.
func TestAfterSalesConfig(t *testing.T) {
	t.Parallel()
	_, err := config.FromEnv(func(k string) string {
		return map[string]string{"AFTER_SALES_RESPONSE_WINDOW": "0s", "AFTER_SALES_RETURN_WINDOW": "-1h"}[k]
	})
	if err == nil || !strings.Contains(err.Error(), "AFTER_SALES_RESPONSE_WINDOW") || !strings.Contains(err.Error(), "AFTER_SALES_RETURN_WINDOW") {
		t.Fatalf("bad deadlines: %v", err)
	}
	c, err := config.FromEnv(func(k string) string { return map[string]string{"AFTER_SALES_RESPONSE_WINDOW": "24h"}[k] })
	if err != nil || c.AfterSales.ResponseWindow != 24*time.Hour || c.AfterSales.ReceiptWindow != 240*time.Hour {
		t.Fatalf("config %+v, %v", c.AfterSales, err)
	}
}
