package catalog_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/stockmovement"
	"github.com/xiadan/xiadan/internal/apitest"
)

const (
	adjustStock    = `mutation($id: ID!, $d: Int!, $r: String!) { adjustStock(variantID: $id, delta: $d, reason: $r) { id stock product { totalStock } } }`
	stockMovements = `query($id: ID!, $first: Int, $after: Cursor, $last: Int) { stockMovements(variantID: $id, first: $first, after: $after, last: $last) {
		totalCount pageInfo { hasNextPage endCursor } edges { node { kind delta stockBefore stockAfter reason variant { id } } } } }`
	lowStock = `query($m: ID, $first: Int, $after: Cursor, $last: Int, $before: Cursor) { lowStockVariants(merchantID: $m, first: $first, after: $after, last: $last, before: $before) {
		totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { node { sku stock lowStock } } } }`
)

// adjustStock keeps the ledger; stockMovements and lowStockVariants read it back.
func TestStockAndLedger(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		t.Run("adjustStock and stockMovements", func(t *testing.T) {
			staff := w.staff.AccessToken
			p := mustCreate(t, s, staff, productIn("龙井", variantIn("LJ-50", "19.90", 5, "规格=50g"), variantIn("LJ-100", "36", 2, "规格=100g")))
			foreign := mustCreate(t, s, w.other.Owner.AccessToken, productIn("Coffee", variantIn("CF-1", "30", 1)))
			vid := p.Variants[0].ID
			adj := func(id string, delta int, reason string) map[string]any {
				return map[string]any{"id": id, "d": delta, "r": reason}
			}
			steps := []struct {
				name, token string
				vars        map[string]any
				code, field string
				stock       int
			}{
				{"anonymous", "", adj(vid, 1, "x"), "UNAUTHENTICATED", "", 0},
				{"customer", w.customer.AccessToken, adj(vid, 1, "x"), "FORBIDDEN", "", 0},
				{"another merchant's variant", staff, adj(foreign.Variants[0].ID, 1, "x"), "NOT_FOUND", "", 0},
				{"another merchant's staff", w.other.Owner.AccessToken, adj(vid, 1, "x"), "NOT_FOUND", "", 0},
				{"no reason", staff, adj(vid, 1, "  "), "BAD_USER_INPUT", "reason", 0},
				{"long reason", staff, adj(vid, 1, strings.Repeat("a", 501)), "BAD_USER_INPUT", "reason", 0},
				{"zero delta", staff, adj(vid, 0, "x"), "BAD_USER_INPUT", "delta", 0},
				{"below zero", staff, adj(vid, -6, "盘亏 stocktake shortfall"), "BAD_USER_INPUT", "delta", 0},
				{"receive", staff, adj(vid, 10, "到货 delivery"), "", "", 15},
				{"shrink", staff, adj(vid, -15, "盘亏 stocktake shortfall"), "", "", 0},
				{"admin", w.admin.AccessToken, adj(vid, 4, "correction"), "", "", 4},
			}
			for _, st := range steps {
				r := s.Query(st.token, adjustStock, st.vars)
				if r.Code() != st.code || r.Field() != st.field {
					t.Fatalf("%s: code %q field %q, want %q %q: %s", st.name, r.Code(), r.Field(), st.code, st.field, r.Raw)
				}
				if st.name == "below zero" && !strings.Contains(r.Errors[0].Message, "current stock: 5") {
					t.Fatalf("below zero: the message should give the current stock: %s", r.Raw)
				}
				if st.code == "" && !r.Contains(fmt.Sprintf(`"stock":%d,"product":{"totalStock":%d}`, st.stock, st.stock+2)) {
					t.Fatalf("%s: %s", st.name, r.Raw)
				}
			}

			// The ledger, newest first: each row starts where the one before it ended.
			r := s.MustQuery(staff, stockMovements, map[string]any{"id": vid, "first": 10})
			var ledger struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						Kind                           string
						Delta, StockBefore, StockAfter int
						Reason                         string
					}
				}
			}
			decodeField(t, r, &ledger)
			got := []string{}
			for _, e := range ledger.Edges {
				n := e.Node
				got = append(got, fmt.Sprintf("%s %+d %d→%d %s", n.Kind, n.Delta, n.StockBefore, n.StockAfter, n.Reason))
			}
			want := []string{
				"ADJUSTMENT +4 0→4 correction",
				"ADJUSTMENT -15 15→0 盘亏 stocktake shortfall",
				"ADJUSTMENT +10 5→15 到货 delivery",
				"INITIAL +5 0→5 opening stock",
			}
			if ledger.TotalCount != 4 || strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("ledger:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			// Who made each change is recorded.
			client, ctx := s.Client()
			rows := client.StockMovement.Query().Where(stockmovement.VariantID(atoi(t, vid))).Order(ent.Asc(stockmovement.FieldID)).AllX(ctx)
			for i, who := range []string{w.staff.UserID, w.staff.UserID, w.staff.UserID, w.admin.UserID} {
				if rows[i].ActorID == nil || strconv.Itoa(*rows[i].ActorID) != who {
					t.Fatalf("ledger row %d: actor %v, want %s", i, rows[i].ActorID, who)
				}
			}

			// Paging through the ledger, and who may read it.
			page := s.MustQuery(staff, stockMovements, map[string]any{"id": vid, "first": 3})
			var first struct {
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
			}
			decodeField(t, page, &first)
			if !first.PageInfo.HasNextPage {
				t.Fatalf("first page: %s", page.Raw)
			}
			r = s.MustQuery(staff, stockMovements, map[string]any{"id": vid, "first": 3, "after": first.PageInfo.EndCursor})
			if !r.Contains(`"kind":"INITIAL"`) || r.Contains(`"kind":"ADJUSTMENT"`) {
				t.Fatalf("second page: %s", r.Raw)
			}
			s.MustQuery(w.admin.AccessToken, stockMovements, map[string]any{"id": vid, "first": 10})
			expect(t, s.Query(w.other.Owner.AccessToken, stockMovements, map[string]any{"id": vid, "first": 10}), "NOT_FOUND", "")
			expect(t, s.Query(w.customer.AccessToken, stockMovements, map[string]any{"id": vid, "first": 10}), "FORBIDDEN", "")
			expect(t, s.Query("", stockMovements, map[string]any{"id": vid, "first": 10}), "UNAUTHENTICATED", "")
			expect(t, s.Query(staff, stockMovements, map[string]any{"id": vid}), "BAD_USER_INPUT", "first")
		})
		t.Run("lowStockVariants", func(t *testing.T) {
			staff := w.staff.AccessToken
			low := func(sku string, stock, threshold int, opt string) map[string]any {
				return with(variantIn(sku, "10", stock, "n="+opt), "lowStockThreshold", threshold)
			}
			mustCreate(t, s, staff, productIn("A",
				low("A-OUT", 0, 0, "1"),   // out of stock counts as low
				low("A-LOW", 3, 5, "2"),   // under the threshold
				low("A-EDGE", 5, 5, "3"),  // at the threshold
				low("A-FINE", 6, 5, "4"))) // above it
			mustCreate(t, s, staff, productIn("B", low("B-LOW", 3, 3, "1"), low("B-ZERO", 0, 2, "2"), low("B-FINE", 1, 0, "3")))
			mustCreate(t, s, w.other.Owner.AccessToken, productIn("Other", low("O-LOW", 0, 9, "1")))

			read := func(r *apitest.Response) (skus []string, next bool, end string) {
				var c struct {
					TotalCount int
					PageInfo   struct {
						HasNextPage, HasPreviousPage bool
						StartCursor, EndCursor       string
					}
					Edges []struct{ Node struct{ Sku string } }
				}
				decodeField(t, r, &c)
				for _, e := range c.Edges {
					skus = append(skus, e.Node.Sku)
				}
				return skus, c.PageInfo.HasNextPage, c.PageInfo.EndCursor
			}
			// Lowest stock first, then by id; five of the merchant's seven variants.
			all, _, _ := read(s.MustQuery(staff, lowStock, map[string]any{"first": 10}))
			if got := strings.Join(all, " "); got != "A-OUT B-ZERO A-LOW B-LOW A-EDGE" {
				t.Fatalf("low stock: %s", got)
			}
			// Paging forward with cursors meets every variant once, in order.
			var paged []string
			var after any
			for range 5 {
				skus, next, end := read(s.MustQuery(staff, lowStock, map[string]any{"first": 2, "after": after}))
				paged = append(paged, skus...)
				if !next {
					break
				}
				after = end
			}
			if strings.Join(paged, " ") != strings.Join(all, " ") {
				t.Fatalf("paged: %v, want %v", paged, all)
			}
			last, _, _ := read(s.MustQuery(staff, lowStock, map[string]any{"last": 2}))
			if strings.Join(last, " ") != "B-LOW A-EDGE" {
				t.Fatalf("last two: %v", last)
			}
			_, _, fourth := read(s.MustQuery(staff, lowStock, map[string]any{"first": 4}))
			back, _, _ := read(s.MustQuery(staff, lowStock, map[string]any{"last": 2, "before": fourth}))
			if strings.Join(back, " ") != "B-ZERO A-LOW" {
				t.Fatalf("two before B-LOW: %v", back)
			}
			r := s.MustQuery(staff, lowStock, map[string]any{"first": 1})
			if !r.Contains(`"totalCount":5`) || !r.Contains(`"lowStock":true`) {
				t.Fatalf("first one: %s", r.Raw)
			}

			// Admins name the merchant; staff may name only their own.
			adminView, _, _ := read(s.MustQuery(w.admin.AccessToken, lowStock, map[string]any{"first": 10, "m": w.other.ID}))
			if strings.Join(adminView, " ") != "O-LOW" {
				t.Fatalf("admin's view of the other merchant: %v", adminView)
			}
			s.MustQuery(staff, lowStock, map[string]any{"first": 10, "m": w.m.ID})
			expect(t, s.Query(w.admin.AccessToken, lowStock, map[string]any{"first": 10}), "BAD_USER_INPUT", "merchantID")
			expect(t, s.Query(staff, lowStock, map[string]any{"first": 10, "m": w.other.ID}), "NOT_FOUND", "")
			expect(t, s.Query(w.customer.AccessToken, lowStock, map[string]any{"first": 10}), "FORBIDDEN", "")
			expect(t, s.Query("", lowStock, map[string]any{"first": 10}), "UNAUTHENTICATED", "")
		})
	})
}

// Concurrent adjustments of the variants of one product, each in its own request and
// transaction, must leave a consistent ledger: per variant, every row starts where the
// previous one ended, the deltas add up to the stock, and the stock never goes negative;
// the product's total is the sum of its variants. None may fail with a deadlock.
func TestConcurrentStockAdjustments(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		staff := w.staff.AccessToken
		const initial = 5
		p := mustCreate(t, s, staff, productIn("Hot item",
			variantIn("HOT-1", "10", initial, "n=1"), variantIn("HOT-2", "10", initial, "n=2")))

		const workers, perWorker = 6, 6
		var (
			wg         sync.WaitGroup
			mu         sync.Mutex
			applied    int
			tooLow     int
			bulks      int
			unexpected []string
		)
		// Alongside, bulk updates set both variants' stock at once, naming them in either
		// order, so the lock order of single and bulk changes is exercised too.
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range perWorker {
					a, b := p.Variants[i].ID, p.Variants[1-i].ID
					r := s.Query(staff, bulkVariants, map[string]any{"in": []any{
						map[string]any{"variantID": a, "stock": 4 + j}, map[string]any{"variantID": b, "stock": 6 - j},
					}})
					mu.Lock()
					if len(r.Errors) > 0 || !r.Contains(`"errors":[]`) {
						unexpected = append(unexpected, string(r.Raw))
					} else {
						bulks++
					}
					mu.Unlock()
				}
			}()
		}
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				vid := p.Variants[i%2].ID
				for j := range perWorker {
					delta := []int{-3, 2, -2, 1, -4, 3}[(i+j)%6]
					r := s.Query(staff, adjustStock, map[string]any{"id": vid, "d": delta, "r": fmt.Sprintf("w%d-%d", i, j)})
					mu.Lock()
					switch {
					case len(r.Errors) == 0:
						applied++
					case r.Code() == "BAD_USER_INPUT" && r.Field() == "delta":
						tooLow++
					default:
						unexpected = append(unexpected, string(r.Raw))
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(unexpected) > 0 {
			t.Fatalf("%d adjustments failed unexpectedly, first: %s", len(unexpected), unexpected[0])
		}

		client, ctx := s.Client()
		movements := 0
		total := 0
		for _, v := range p.Variants {
			id := atoi(t, v.ID)
			pv := client.ProductVariant.GetX(ctx, id)
			rows := client.StockMovement.Query().Where(stockmovement.VariantID(id)).Order(ent.Asc(stockmovement.FieldID)).AllX(ctx)
			sum, prev := 0, 0
			for i, m := range rows {
				if m.StockAfter != m.StockBefore+m.Delta || m.StockAfter < 0 || m.StockBefore != prev {
					t.Fatalf("%s ledger row %d does not chain: %+v (previous ended at %d)", v.Sku, i, m, prev)
				}
				sum += m.Delta
				prev = m.StockAfter
			}
			if sum != pv.Stock || prev != pv.Stock || pv.Stock < 0 {
				t.Fatalf("%s: stock %d, ledger sums to %d and ends at %d", v.Sku, pv.Stock, sum, prev)
			}
			for _, m := range rows[1:] {
				if m.Kind == stockmovement.KindADJUSTMENT {
					movements++
				}
			}
			total += pv.Stock
		}
		if movements != applied || applied+tooLow != workers*perWorker || bulks != 2*perWorker {
			t.Fatalf("%d ledger rows, %d adjustments applied, %d refused, of %d; %d bulks", movements, applied, tooLow, workers*perWorker, bulks)
		}
		if got := client.Product.GetX(ctx, atoi(t, p.ID)).TotalStock; got != total {
			t.Fatalf("product total stock %d, variants sum to %d", got, total)
		}
		t.Logf("%d adjustments applied, %d refused as below zero", applied, tooLow)
	})
}
