package catalog_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/stockmovement"
	"github.com/xiadan/xiadan/internal/apitest"
)

const (
	bulkStatus = `mutation($ids: [ID!]!, $st: ProductStatus!, $atomic: Boolean) { bulkSetProductStatus(ids: $ids, status: $st, atomic: $atomic) {
		products { id status } errors { index id field code message } } }`
	bulkVariants = `mutation($in: [BulkVariantUpdateInput!]!, $atomic: Boolean) { bulkUpdateVariants(inputs: $in, atomic: $atomic) {
		variants { id stock price { amount } } errors { index id field code message } } }`
)

// bulkOut is either payload as the tests read it.
type bulkOut struct {
	Products []struct{ ID, Status string }
	Variants []struct {
		ID    string
		Stock int
		Price struct{ Amount string }
	}
	Errors []struct {
		Index   int
		ID      string
		Field   *string
		Code    string
		Message string
	}
}

// summary renders the errors as "index:code:field" for comparison.
func (b bulkOut) summary() string {
	var parts []string
	for _, e := range b.Errors {
		f := ""
		if e.Field != nil {
			f = *e.Field
		}
		parts = append(parts, fmt.Sprintf("%d:%s:%s", e.Index, e.Code, f))
	}
	return strings.Join(parts, " ")
}

// Bulk operations check every item by the single mutations' rules and report the items
// that fail; atomic ones then apply nothing, others apply the rest.
func TestBulkOperations(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		t.Run("bulkSetProductStatus", func(t *testing.T) {
			staff := w.staff.AccessToken
			var ids []string
			for i := range 3 {
				p := mustCreate(t, s, staff, productIn("P"+strconv.Itoa(i), variantIn("P-"+strconv.Itoa(i), "10", 1)))
				ids = append(ids, p.ID)
			}
			live := mustCreate(t, s, staff, productIn("Live", variantIn("LIVE", "10", 1)))
			s.MustQuery(staff, publishProduct, map[string]any{"id": live.ID})
			foreign := mustCreate(t, s, w.other.Owner.AccessToken, productIn("Coffee", variantIn("CF-1", "30", 1)))
			pending := mustCreate(t, s, w.admin.AccessToken, with(productIn("Pending", variantIn("PD-1", "1", 0)), "merchantID", w.review.ID))
			client, ctx := s.Client()
			status := func(id string) product.Status { return client.Product.GetX(ctx, atoi(t, id)).Status }
			run := func(token string, ids []string, st string, atomic any) (bulkOut, *apitest.Response) {
				t.Helper()
				vars := map[string]any{"ids": ids, "st": st}
				if atomic != nil {
					vars["atomic"] = atomic
				}
				r := s.Query(token, bulkStatus, vars)
				var out bulkOut
				if len(r.Errors) == 0 {
					decodeField(t, r, &out)
				}
				return out, r
			}

			// Atomic (the default): one bad item and nothing changes.
			bad := []string{ids[0], foreign.ID, ids[1], live.ID, ids[0], "999999"}
			out, r := run(staff, bad, "ACTIVE", nil)
			expect(t, r, "", "")
			if len(out.Products) != 0 || out.summary() != "1:NOT_FOUND: 3:INVALID_STATE: 4:BAD_USER_INPUT: 5:NOT_FOUND:" {
				t.Fatalf("atomic with errors: %s", r.Raw)
			}
			if out.Errors[0].ID != foreign.ID || !strings.Contains(out.Errors[1].Message, "ACTIVE") {
				t.Fatalf("error details: %s", r.Raw)
			}
			if status(ids[0]) != product.StatusDRAFT || status(ids[1]) != product.StatusDRAFT {
				t.Fatal("an atomic bulk with errors changed products")
			}

			// Not atomic: the good items are applied, the bad ones reported.
			out, r = run(staff, bad, "ACTIVE", false)
			if len(out.Products) != 2 || out.Products[0].ID != ids[0] || out.Products[1].ID != ids[1] || out.Products[0].Status != "ACTIVE" ||
				out.summary() != "1:NOT_FOUND: 3:INVALID_STATE: 4:BAD_USER_INPUT: 5:NOT_FOUND:" {
				t.Fatalf("non-atomic with errors: %s", r.Raw)
			}
			if status(foreign.ID) != product.StatusDRAFT || client.Product.GetX(ctx, atoi(t, ids[0])).PublishedAt == nil {
				t.Fatal("non-atomic bulk: wrong products changed")
			}

			// The same state rules as the single mutations.
			out, r = run(staff, []string{ids[0], ids[2]}, "DELISTED", true)
			if out.summary() != "1:INVALID_STATE:" {
				t.Fatalf("delisting a draft: %s", r.Raw)
			}
			out, r = run(staff, []string{ids[0], live.ID}, "DELISTED", nil)
			if len(out.Products) != 2 || out.summary() != "" || status(live.ID) != product.StatusDELISTED {
				t.Fatalf("delisting: %s", r.Raw)
			}
			out, r = run(w.admin.AccessToken, []string{pending.ID, foreign.ID}, "ACTIVE", false)
			if out.summary() != "0:INVALID_STATE:" || len(out.Products) != 1 || status(foreign.ID) != product.StatusACTIVE {
				t.Fatalf("admin publishing for a pending and an active merchant: %s", r.Raw)
			}

			// Whole-call problems are errors of the call.
			many := make([]string, 101)
			for i := range many {
				many[i] = ids[0]
			}
			_, r = run(staff, many, "ACTIVE", nil)
			expect(t, r, "BAD_USER_INPUT", "ids")
			_, r = run(staff, ids, "DRAFT", nil)
			expect(t, r, "BAD_USER_INPUT", "status")
			_, r = run(w.customer.AccessToken, ids, "ACTIVE", nil)
			expect(t, r, "FORBIDDEN", "")
			_, r = run("", ids, "ACTIVE", nil)
			expect(t, r, "UNAUTHENTICATED", "")
		})
		t.Run("bulkUpdateVariants", func(t *testing.T) {
			staff := w.staff.AccessToken
			p := mustCreate(t, s, staff, productIn("Tea", variantIn("T-1", "10", 5, "n=1"), variantIn("T-2", "20", 5, "n=2"), variantIn("T-3", "30", 5, "n=3"), variantIn("T-4", "40", 0, "n=4")))
			foreign := mustCreate(t, s, w.other.Owner.AccessToken, productIn("Coffee beans", variantIn("CF-2", "30", 1)))
			v1, v2, v3, v4 := p.Variants[0].ID, p.Variants[1].ID, p.Variants[2].ID, p.Variants[3].ID
			item := func(id string, kv ...any) map[string]any {
				m := map[string]any{"variantID": id}
				for i := 0; i < len(kv); i += 2 {
					m[kv[i].(string)] = kv[i+1]
				}
				return m
			}
			run := func(token string, items []any, atomic any) (bulkOut, *apitest.Response) {
				t.Helper()
				vars := map[string]any{"in": items}
				if atomic != nil {
					vars["atomic"] = atomic
				}
				r := s.Query(token, bulkVariants, vars)
				var out bulkOut
				if len(r.Errors) == 0 {
					decodeField(t, r, &out)
				}
				return out, r
			}
			client, ctx := s.Client()
			stock := func(id string) int { return client.ProductVariant.GetX(ctx, atoi(t, id)).Stock }

			bad := []any{
				item(v1, "price", "12.5", "stock", 8),
				item(v2, "price", "0"),
				item(v3, "stock", -1),
				item(foreign.Variants[0].ID, "stock", 3),
				item(v1, "stock", 2),
				item(v4),
			}
			const wantErrors = "1:BAD_USER_INPUT:price 2:BAD_USER_INPUT:stock 3:NOT_FOUND: 4:BAD_USER_INPUT:variantID 5:BAD_USER_INPUT:price"
			out, r := run(staff, bad, nil)
			if len(out.Variants) != 0 || out.summary() != wantErrors {
				t.Fatalf("atomic with errors: %s", r.Raw)
			}
			if stock(v1) != 5 || client.ProductVariant.GetX(ctx, atoi(t, v1)).Price != 1000 {
				t.Fatal("an atomic bulk with errors changed variants")
			}

			out, r = run(staff, bad, false)
			if out.summary() != wantErrors || len(out.Variants) != 1 || out.Variants[0].ID != v1 || out.Variants[0].Stock != 8 ||
				out.Variants[0].Price.Amount != "12.50" {
				t.Fatalf("non-atomic with errors: %s", r.Raw)
			}
			// A price alone writes no ledger row, and an unchanged stock neither.
			out, r = run(staff, []any{item(v3, "price", "31"), item(v1, "stock", 8), item(v2, "stock", 0)}, nil)
			if out.summary() != "" || len(out.Variants) != 3 {
				t.Fatalf("second bulk: %s", r.Raw)
			}
			// Stock changes are in the ledger as BULK_UPDATE; the aggregates follow.
			if n := client.StockMovement.Query().Where(stockmovement.KindEQ(stockmovement.KindBULK_UPDATE)).CountX(ctx); n != 2 {
				t.Fatalf("%d BULK_UPDATE rows, want 2", n)
			}
			for id, want := range map[string]string{v1: "5→8", v2: "5→0"} {
				ms := client.StockMovement.Query().Where(stockmovement.VariantID(atoi(t, id)), stockmovement.KindEQ(stockmovement.KindBULK_UPDATE)).AllX(ctx)
				if len(ms) != 1 || fmt.Sprintf("%d→%d", ms[0].StockBefore, ms[0].StockAfter) != want || ms[0].Delta != ms[0].StockAfter-ms[0].StockBefore ||
					ms[0].ActorID == nil || strconv.Itoa(*ms[0].ActorID) != w.staff.UserID {
					t.Fatalf("ledger of %s: %+v, want %s", id, ms, want)
				}
			}
			r = s.MustQuery(staff, `query($id: ID!) { product(id: $id) { totalStock priceRange { min { amount } max { amount } } } }`, map[string]any{"id": p.ID})
			if !r.Contains(`"totalStock":13`) || !r.Contains(`"min":{"amount":"12.50"}`) || !r.Contains(`"max":{"amount":"40.00"}`) {
				t.Fatalf("aggregates after the bulk: %s", r.Raw)
			}

			many := make([]any, 101)
			for i := range many {
				many[i] = item(v1, "stock", i)
			}
			_, r = run(staff, many, nil)
			expect(t, r, "BAD_USER_INPUT", "inputs")
			_, r = run(w.customer.AccessToken, []any{item(v1, "stock", 1)}, nil)
			expect(t, r, "FORBIDDEN", "")
			_, r = run("", []any{item(v1, "stock", 1)}, nil)
			expect(t, r, "UNAUTHENTICATED", "")
			// Admins may change any merchant's variants.
			out, r = run(w.admin.AccessToken, []any{item(foreign.Variants[0].ID, "stock", 9)}, nil)
			if out.summary() != "" || len(out.Variants) != 1 || out.Variants[0].Stock != 9 {
				t.Fatalf("admin bulk: %s", r.Raw)
			}
			checkAggregates(t, client)
		})
	})
}
