package datarights_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/address"
	"github.com/xiadan/xiadan/ent/auditlog"
	"github.com/xiadan/xiadan/ent/datarequest"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/payment"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/refreshtoken"
	"github.com/xiadan/xiadan/ent/review"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/ent/useridentity"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/datarights"
)

// world is a server with a shop selling a ¥25.50 tea, a buyer and another customer who
// each have an address, a paid order and a ticket, and an admin.
type world struct {
	s            *apitest.Server
	shop         apitest.Merchant
	productID    int
	tea          string
	buyer, other apitest.Session
	admin        string
	seq          atomic.Int64
}

func newWorld(t *testing.T, s *apitest.Server) *world {
	t.Helper()
	w := &world{s: s}
	w.shop = s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	pid, tea := s.NewProduct(t, w.shop, "Longjing tea", product.KindPHYSICAL, "tea-1", 2550, 1000)
	w.productID, w.tea = pid, strconv.Itoa(tea)
	w.buyer = s.Register("buyer@example.com", "Buyer Wang")
	w.other = s.Register("other@example.com", "Other Zhao")
	w.admin = s.NewAdmin(t, "admin@example.com").AccessToken
	return w
}

func (w *world) key(p string) string { return fmt.Sprintf("%s-key-%04d", p, w.seq.Add(1)) }

func (w *world) must(t *testing.T, token, q string, vars map[string]any, out any) {
	t.Helper()
	r := w.s.Query(token, q, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %s", q, r.Raw)
	}
	if out != nil {
		r.Decode(t, out)
	}
}

// life gives the session an address, a paid order of two teas shipped to street and a
// platform ticket, and returns the order's number.
func (w *world) life(t *testing.T, who apitest.Session, name, phone, street string) string {
	t.Helper()
	w.must(t, who.AccessToken, `mutation($p: String!) { updateProfile(input: {phone: $p}) { id } }`, map[string]any{"p": phone}, nil)
	addr := map[string]any{"recipientName": name, "phone": phone, "province": "Zhejiang", "city": "Hangzhou", "street": street}
	w.must(t, who.AccessToken, `mutation($i: AddressInput!) { addAddress(input: $i) { id } }`, map[string]any{"i": addr}, nil)
	var placed struct {
		PlaceOrder struct {
			CheckoutID string
			Orders     []struct{ Number string }
		}
	}
	w.must(t, who.AccessToken, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { checkoutID orders { number } } }`,
		map[string]any{"i": map[string]any{"lines": []map[string]any{{"variantID": w.tea, "quantity": 2}},
			"shippingAddress": addr, "note": "ring " + name, "idempotencyKey": w.key("place")}}, &placed)
	var pay struct{ PayOrder struct{ ID string } }
	w.must(t, who.AccessToken, `mutation($i: PayOrderInput!) { payOrder(input: $i) { id } }`,
		map[string]any{"i": map[string]any{"checkoutID": placed.PlaceOrder.CheckoutID, "method": "BANK_CARD", "idempotencyKey": w.key("pay")}}, &pay)
	w.must(t, who.AccessToken, `mutation($id: ID!) { sandboxCompletePayment(paymentID: $id, outcome: SUCCEEDED) { id } }`,
		map[string]any{"id": pay.PayOrder.ID}, nil)
	w.must(t, who.AccessToken, `mutation($i: OpenTicketInput!) { openTicket(input: $i) { id } }`,
		map[string]any{"i": map[string]any{"subjectKind": "PLATFORM", "subject": "Question of " + name, "body": "Hello from " + name}}, nil)
	// A review, written directly: the review flow (internal/reviews) is not under test.
	client, ctx := w.s.Client()
	uid, _ := strconv.Atoi(who.UserID)
	if err := client.Review.Create().SetProductID(w.productID).SetMerchantID(mustAtoi(t, w.shop.ID)).SetAuthorID(uid).
		SetAuthorName(name).SetRating(5).SetBody("Fine tea, says " + name).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return placed.PlaceOrder.Orders[0].Number
}

type request struct {
	ID, Kind, Status string
	Reason, Note     *string
	DueAt, CreatedAt time.Time
	CompletedAt      *time.Time
	Archive          *string
}

const fields = `id kind status reason note dueAt createdAt completedAt`

func (w *world) do(t *testing.T, token, op string, vars map[string]any) request {
	t.Helper()
	var out map[string]request
	w.must(t, token, op, vars, &out)
	for _, r := range out {
		return r
	}
	t.Fatalf("no data for %s", op)
	return request{}
}

func wantCode(t *testing.T, r *apitest.Response, code string) {
	t.Helper()
	if r.Code() != code {
		t.Fatalf("want %s, got %q: %s", code, r.Code(), r.Raw)
	}
}

const (
	exportOp   = `mutation { requestDataExport { ` + fields + ` archive } }`
	deleteOp   = `mutation($r: String) { requestAccountDeletion(reason: $r) { ` + fields + ` } }`
	cancelOp   = `mutation($id: ID!) { cancelDataRequest(id: $id) { ` + fields + ` } }`
	completeOp = `mutation($id: ID!) { completeDataErasure(id: $id) { ` + fields + ` } }`
	rejectOp   = `mutation($id: ID!, $r: String!) { rejectDataRequest(id: $id, reason: $r) { ` + fields + ` } }`
)

// TestExportErasureStory: a buyer exports their data (and only theirs), asks for deletion,
// an admin completes it; afterwards the buyer cannot sign in, their personal fields are
// gone, and their orders and payments remain with their amounts.
func TestExportErasureStory(t *testing.T) {
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		buyerOrder := w.life(t, w.buyer, "Wang Fang", "13800138000", "1 West Lake Road")
		otherOrder := w.life(t, w.other, "Zhao Lei", "13900139000", "9 Other Street")
		client, ctx := s.Client()
		buyerID, _ := strconv.Atoi(w.buyer.UserID)
		// A linked WeChat mini-program identity: exported by platform name only, deleted by erasure.
		var linked struct{ LinkMiniProgram struct{ OpenID string } }
		w.must(t, w.buyer.AccessToken, `mutation($i: MiniProgramSignInInput!) { linkMiniProgram(input: $i) { openID } }`,
			map[string]any{"i": map[string]any{"platform": "WECHAT", "code": "wang-fang"}}, &linked)
		openID := linked.LinkMiniProgram.OpenID

		// Export: the buyer's data, none of the other's.
		ex := w.do(t, w.buyer.AccessToken, exportOp, nil)
		if ex.Kind != "EXPORT" || ex.Status != "COMPLETED" || ex.Archive == nil || ex.CompletedAt == nil {
			t.Fatalf("export: %+v", ex)
		}
		var doc datarights.Export
		if err := json.Unmarshal([]byte(*ex.Archive), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Format != datarights.ExportFormat || doc.Profile.Email == nil || *doc.Profile.Email != "buyer@example.com" ||
			doc.Profile.Phone == nil || *doc.Profile.Phone == "" {
			t.Errorf("profile: %+v", doc.Profile)
		}
		if len(doc.Addresses) != 1 || doc.Addresses[0].Street != "1 West Lake Road" {
			t.Errorf("addresses: %+v", doc.Addresses)
		}
		if len(doc.Orders) != 1 || doc.Orders[0].Number != buyerOrder || doc.Orders[0].Total == 0 ||
			len(doc.Orders[0].Items) != 1 || doc.Orders[0].Items[0].Quantity != 2 || len(doc.Orders[0].PaymentIDs) != 1 {
			t.Errorf("orders: %+v", doc.Orders)
		}
		if len(doc.Payments) != 1 || doc.Payments[0].Amount != doc.Orders[0].Total || doc.Payments[0].Status != "SUCCEEDED" {
			t.Errorf("payments: %+v", doc.Payments)
		}
		if len(doc.Reviews) != 1 || len(doc.Tickets) != 1 || len(doc.Tickets[0].Messages) != 1 ||
			doc.Tickets[0].Messages[0].Body != "Hello from Wang Fang" {
			t.Errorf("reviews %+v tickets %+v", doc.Reviews, doc.Tickets)
		}
		if len(doc.Identities) != 1 || doc.Identities[0].Provider != "WECHAT" || openID == "" {
			t.Errorf("identities: %+v (openid %q)", doc.Identities, openID)
		}
		for _, leak := range []string{openID, "other@example.com", "Zhao Lei", "9 Other Street", otherOrder, "13900139000", "password", "instructions"} {
			if strings.Contains(*ex.Archive, leak) {
				t.Errorf("the export holds %q", leak)
			}
		}
		// Idempotent within a day.
		if again := w.do(t, w.buyer.AccessToken, exportOp, nil); again.ID != ex.ID {
			t.Errorf("second export %s, want %s", again.ID, ex.ID)
		}

		// The archive is the owner's only: another user finds nothing, an admin is refused it.
		read := `query($id: ID!) { dataRequest(id: $id) { id status archive } }`
		wantCode(t, s.Query(w.other.AccessToken, read, map[string]any{"id": ex.ID}), "NOT_FOUND")
		r := s.Query(w.admin, read, map[string]any{"id": ex.ID})
		wantCode(t, r, "FORBIDDEN")
		if r.Contains("West Lake") {
			t.Errorf("the admin read the archive: %s", r.Raw)
		}
		if r := s.Query(w.admin, `query($id: ID!) { dataRequest(id: $id) { id status user { email } } }`, map[string]any{"id": ex.ID}); r.Code() != "" || !r.Contains("buyer@example.com") {
			t.Errorf("admin reading the request: %s", r.Raw)
		}
		r = s.Query(w.other.AccessToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": ex.ID})
		if r.Contains(ex.ID) {
			t.Errorf("node() showed another's request: %s", r.Raw)
		}

		// Deletion request: PENDING, due in 30 days, asked twice is one request.
		del := w.do(t, w.buyer.AccessToken, deleteOp, map[string]any{"r": "leaving"})
		if del.Kind != "ERASURE" || del.Status != "PENDING" || del.Reason == nil || *del.Reason != "leaving" ||
			!del.DueAt.Equal(del.CreatedAt.Add(30*24*time.Hour)) {
			t.Fatalf("deletion request: %+v", del)
		}
		if again := w.do(t, w.buyer.AccessToken, deleteOp, nil); again.ID != del.ID {
			t.Errorf("second deletion request %s, want %s", again.ID, del.ID)
		}

		// Error paths.
		id := map[string]any{"id": del.ID}
		wantCode(t, s.Query(w.buyer.AccessToken, completeOp, id), "FORBIDDEN")
		wantCode(t, s.Query(w.buyer.AccessToken, `{ dataRequests(first: 10) { totalCount } }`, nil), "FORBIDDEN")
		wantCode(t, s.Query(w.other.AccessToken, cancelOp, id), "NOT_FOUND")
		wantCode(t, s.Query("", cancelOp, id), "UNAUTHENTICATED")
		wantCode(t, s.Query(w.admin, completeOp, map[string]any{"id": "999999999"}), "NOT_FOUND")
		wantCode(t, s.Query(w.admin, completeOp, map[string]any{"id": ex.ID}), "INVALID_STATE")
		wantCode(t, s.Query(w.admin, rejectOp, map[string]any{"id": del.ID, "r": "  "}), "BAD_USER_INPUT")
		wantCode(t, s.Query(w.buyer.AccessToken, cancelOp, map[string]any{"id": ex.ID}), "INVALID_STATE")

		// The admins' queue.
		var q struct {
			DataRequests struct {
				TotalCount int
				Nodes      []struct{ ID, Status string }
			}
		}
		w.must(t, w.admin, `query($d: Time) { dataRequests(status: PENDING, kind: ERASURE, dueBefore: $d, first: 10) { totalCount nodes { id status } } }`,
			map[string]any{"d": time.Now().Add(31 * 24 * time.Hour).UTC().Format(time.RFC3339)}, &q)
		if q.DataRequests.TotalCount != 1 || q.DataRequests.Nodes[0].ID != del.ID {
			t.Errorf("queue: %+v", q)
		}
		w.must(t, w.admin, `query($d: Time) { dataRequests(dueBefore: $d, first: 10) { totalCount nodes { id status } } }`,
			map[string]any{"d": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, &q)
		if q.DataRequests.TotalCount != 0 {
			t.Errorf("nothing is due before now: %+v", q)
		}

		// The admin completes it.
		done := w.do(t, w.admin, completeOp, id)
		if done.Status != "COMPLETED" || done.CompletedAt == nil {
			t.Fatalf("completed: %+v", done)
		}
		wantCode(t, s.Query(w.admin, completeOp, id), "INVALID_STATE")
		wantCode(t, s.Query(w.admin, rejectOp, map[string]any{"id": del.ID, "r": "late"}), "INVALID_STATE")

		// The buyer cannot sign in, and their tokens no longer work.
		login := s.Query("", `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`,
			map[string]any{"i": map[string]any{"email": "buyer@example.com", "password": apitest.Password}})
		if login.Code() == "" {
			t.Errorf("the erased buyer signed in: %s", login.Raw)
		}
		if r := s.Query(w.buyer.AccessToken, exportOp, nil); r.Code() == "" {
			t.Errorf("the erased buyer's token still works: %s", r.Raw)
		}
		if r := s.Query("", `mutation($t: String!) { refreshToken(token: $t) { accessToken } }`, map[string]any{"t": w.buyer.RefreshToken}); r.Code() == "" {
			t.Errorf("the erased buyer's refresh token still works: %s", r.Raw)
		}

		// Personal fields are gone; orders and payments stay with their amounts.
		u := client.User.GetX(ctx, buyerID)
		if u.Email == nil || *u.Email != datarights.ErasedEmail(buyerID) || u.Phone != nil || u.DisplayName != datarights.ErasedName ||
			u.PasswordHash != "" || u.Status != user.StatusDELETED {
			t.Errorf("user after erasure: %+v", u)
		}
		if n := client.Address.Query().Where(address.UserID(buyerID)).CountX(ctx); n != 0 {
			t.Errorf("%d addresses left", n)
		}
		if n := client.UserIdentity.Query().Where(useridentity.UserID(buyerID)).CountX(ctx); n != 0 {
			t.Errorf("%d identities left", n)
		}
		// The mini program now signs the same person into a new, empty account.
		again := s.SignInMini(t, "WECHAT", "wang-fang")
		if again.UserID == w.buyer.UserID {
			t.Errorf("the mini program signed into the erased account")
		}
		if n := client.RefreshToken.Query().Where(refreshtoken.UserID(buyerID)).CountX(ctx); n != 0 {
			t.Errorf("%d refresh tokens left", n)
		}
		o := client.Order.Query().Where(order.CustomerID(buyerID)).OnlyX(ctx)
		if o.Number != buyerOrder || o.Total != doc.Orders[0].Total || o.ContactName != datarights.ErasedName || o.ContactPhone != "" ||
			o.Note != "" || o.ShippingAddress == nil || o.ShippingAddress.Street != "" || o.ShippingAddress.Phone != "" ||
			o.ShippingAddress.RecipientName != datarights.ErasedName || o.ShippingAddress.City != "Hangzhou" {
			t.Errorf("order after erasure: %+v %+v", o, o.ShippingAddress)
		}
		p := client.Payment.Query().Where(payment.CustomerID(buyerID)).OnlyX(ctx)
		if p.Amount != doc.Payments[0].Amount || p.Status != payment.StatusSUCCEEDED || p.Instructions != nil {
			t.Errorf("payment after erasure: %+v", p)
		}
		if rv := client.Review.Query().Where(review.AuthorID(buyerID)).OnlyX(ctx); rv.AuthorName != datarights.ErasedName {
			t.Errorf("review author %q", rv.AuthorName)
		}
		if e := client.DataRequest.GetX(ctx, mustAtoi(t, ex.ID)); e.Archive != nil {
			t.Errorf("the export's archive survived the erasure")
		}
		// The other customer is untouched.
		otherID, _ := strconv.Atoi(w.other.UserID)
		if a := client.Address.Query().Where(address.UserID(otherID)).OnlyX(ctx); a.Street != "9 Other Street" {
			t.Errorf("the other's address: %+v", a)
		}
		w.must(t, w.other.AccessToken, `{ me { id } }`, nil, nil)
		// One decision in the audit log.
		if n := client.AuditLog.Query().Where(auditlog.TargetType("DataRequest"), auditlog.TargetID(mustAtoi(t, del.ID)),
			auditlog.Action("datarights.complete_erasure")).CountX(ctx); n != 1 {
			t.Errorf("%d erasure audit entries, want 1", n)
		}
	})
}

// TestRejectAndCancel: an admin rejects a deletion request with a reason the user sees;
// the user withdraws another; neither can be decided again.
func TestRejectAndCancel(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := &world{s: s}
		a := s.Register("a@example.com", "A")
		admin := s.NewAdmin(t, "admin@example.com").AccessToken
		r := w.do(t, a.AccessToken, deleteOp, nil)
		rej := w.do(t, admin, rejectOp, map[string]any{"id": r.ID, "r": "open disputes on your orders"})
		if rej.Status != "REJECTED" || rej.Note == nil || *rej.Note != "open disputes on your orders" {
			t.Fatalf("rejected: %+v", rej)
		}
		wantCode(t, s.Query(a.AccessToken, cancelOp, map[string]any{"id": r.ID}), "INVALID_STATE")
		var mine struct{ MyDataRequests []request }
		w.must(t, a.AccessToken, `{ myDataRequests { `+fields+` } }`, nil, &mine)
		if len(mine.MyDataRequests) != 1 || mine.MyDataRequests[0].Status != "REJECTED" {
			t.Errorf("mine: %+v", mine)
		}
		r2 := w.do(t, a.AccessToken, deleteOp, nil)
		if r2.ID == r.ID {
			t.Fatal("a new request after a rejection reused the old one")
		}
		if c := w.do(t, a.AccessToken, cancelOp, map[string]any{"id": r2.ID}); c.Status != "CANCELLED" {
			t.Errorf("cancelled: %+v", c)
		}
		wantCode(t, s.Query(admin, completeOp, map[string]any{"id": r2.ID}), "INVALID_STATE")
		w.must(t, a.AccessToken, `{ me { id } }`, nil, nil)
		client, ctx := s.Client()
		if n := client.AuditLog.Query().Where(auditlog.TargetType("DataRequest"), auditlog.ActionIn("datarights.reject", "datarights.cancel")).CountX(ctx); n != 2 {
			t.Errorf("%d decision audit entries, want 2", n)
		}
	})
}

// TestCancelRacingCompletion: the user cancels while an admin completes, over HTTP; the
// database decides — exactly one wins, the other gets INVALID_STATE (or, for a cancel
// arriving after the erasure, UNAUTHENTICATED: the account is gone), the audit log holds
// one decision and the account is erased exactly when the completion won.
func TestCancelRacingCompletion(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			w := &world{s: s}
			admin := s.NewAdmin(t, "admin@example.com").AccessToken
			client, ctx := s.Client()
			wins := map[string]int{}
			t.Cleanup(func() { t.Logf("winners: %v", wins) })
			for i := range apitest.RaceRounds(d, 6) {
				u := s.Register(fmt.Sprintf("racer%d@example.com", i), "Racer")
				r := w.do(t, u.AccessToken, deleteOp, nil)
				id := map[string]any{"id": r.ID}
				outs := apitest.Race(s.Request(u.AccessToken, cancelOp, id), s.Request(admin, completeOp, id))
				// A cancel that arrives after the erasure committed finds its session ended.
				if n := apitest.Successes(t, "cancel or complete", outs, "INVALID_STATE", "UNAUTHENTICATED"); n != 1 {
					t.Fatalf("round %d: %d of cancel and complete succeeded, want 1", i, n)
				}
				got := client.DataRequest.GetX(ctx, mustAtoi(t, r.ID))
				decisions := client.AuditLog.Query().Where(auditlog.TargetType("DataRequest"), auditlog.TargetID(got.ID),
					auditlog.ActionIn("datarights.cancel", "datarights.complete_erasure")).AllX(ctx)
				if len(decisions) != 1 {
					t.Fatalf("round %d: %d decisions audited, want 1", i, len(decisions))
				}
				st := client.User.GetX(ctx, mustAtoi(t, u.UserID)).Status
				wins[decisions[0].Action]++
				switch {
				case outs[0].Code() == "" && (got.Status != "CANCELLED" || st != user.StatusACTIVE || decisions[0].Action != "datarights.cancel"):
					t.Fatalf("round %d: cancel won but request %s, user %s", i, got.Status, st)
				case outs[1].Code() == "" && (got.Status != "COMPLETED" || st != user.StatusDELETED || decisions[0].Action != "datarights.complete_erasure"):
					t.Fatalf("round %d: completion won but request %s, user %s", i, got.Status, st)
				}
			}
		})
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestConcurrentRequestsGiveOne: the same person asking twice at once for an export, or for
// deletion, gets one request both times (their user row is locked first).
func TestConcurrentRequestsGiveOne(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := apitest.New(t, d.URL(t))
			client, ctx := s.Client()
			for i := range apitest.RaceRounds(d, 3) {
				u := s.Register(fmt.Sprintf("twice%d@example.com", i), "Twice")
				for _, op := range []string{exportOp, deleteOp} {
					outs := apitest.Race(s.Request(u.AccessToken, op, nil), s.Request(u.AccessToken, op, nil))
					if n := apitest.Successes(t, "request", outs); n != 2 {
						t.Fatalf("round %d: %d of 2 requests succeeded", i, n)
					}
					var a, b map[string]request
					outs[0].R.Decode(t, &a)
					outs[1].R.Decode(t, &b)
					var ida, idb string
					for _, r := range a {
						ida = r.ID
					}
					for _, r := range b {
						idb = r.ID
					}
					if ida != idb {
						t.Fatalf("round %d: two requests %s and %s", i, ida, idb)
					}
				}
				if n := client.DataRequest.Query().Where(datarequest.UserID(mustAtoi(t, u.UserID))).CountX(ctx); n != 2 {
					t.Fatalf("round %d: %d requests stored, want 2 (one export, one erasure)", i, n)
				}
			}
		})
	}
}
