package cart_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/cart"
	"github.com/xiadan/xiadan/internal/viewer"
)

// world is a test shop floor: two ACTIVE merchants and two customers. Merchant a charges
// 10.00 shipping, free from 99.00 (the fixture's rule); merchant b charges a flat 5.00.
type world struct {
	s            *apitest.Server
	a, b         apitest.Merchant
	buyer, other apitest.Session
}

func newWorld(t *testing.T, s *apitest.Server) *world {
	t.Helper()
	w := &world{s: s}
	w.a = s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	w.b = s.NewMerchant(t, "game-codes", merchant.StatusACTIVE)
	client, ctx := s.Client()
	if err := client.Merchant.UpdateOneID(w.b.IntID).SetShippingFlatFee(500).SetFreeShippingThreshold(0).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	w.buyer = s.Register("buyer@example.com", "Buyer")
	w.other = s.Register("other@example.com", "Other")
	return w
}

// variant creates an ACTIVE product of m with one variant and returns the variant's id.
func (w *world) variant(t *testing.T, m apitest.Merchant, kind product.Kind, sku string, price int64, stock int) string {
	t.Helper()
	_, v := w.s.NewProduct(t, m, "Product "+sku, kind, sku, price, stock)
	return strconv.Itoa(v)
}

// productOf returns the product of variant vid, for changing it behind the cart's back.
func (w *world) productOf(t *testing.T, vid string) *ent.Product {
	t.Helper()
	client, ctx := w.s.Client()
	id, _ := strconv.Atoi(vid)
	p, err := client.ProductVariant.GetX(ctx, id).QueryProduct().Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *world) setStock(t *testing.T, vid string, stock int) {
	t.Helper()
	client, ctx := w.s.Client()
	id, _ := strconv.Atoi(vid)
	if err := client.ProductVariant.UpdateOneID(id).SetStock(stock).Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

const cartFields = `quantity ready subtotal { amount currency } shippingFee { amount } total { amount }
	lines { id quantity title sku unitPrice { amount currency } lineTotal { amount } available problem problemMessage
		variant { id sku } product { id status } options { name value } }
	merchants { merchant { id } lines { id } subtotal { amount } shippingFee { amount } total { amount } }`

type moneyOut struct{ Amount, Currency string }

type lineOut struct {
	ID             string
	Quantity       int
	Title, Sku     string
	UnitPrice      moneyOut
	LineTotal      moneyOut
	Available      int
	Problem        *string
	ProblemMessage *string
	Variant        *struct{ ID, Sku string }
	Product        *struct{ ID, Status string }
	Options        []struct{ Name, Value string }
}

type cartOut struct {
	Quantity                     int
	Ready                        bool
	Subtotal, ShippingFee, Total moneyOut
	Lines                        []lineOut
	Merchants                    []struct {
		Merchant                     struct{ ID string }
		Lines                        []struct{ ID string }
		Subtotal, ShippingFee, Total moneyOut
	}
}

// problem is a line's problem, "" when it has none.
func (l lineOut) problem() string {
	if l.Problem == nil {
		return ""
	}
	return *l.Problem
}

// do runs a cart query or mutation whose single field returns a Cart and decodes it.
func do(t *testing.T, s *apitest.Server, token, query string, vars map[string]any) cartOut {
	t.Helper()
	r := s.MustQuery(token, query, vars)
	var data map[string]cartOut
	r.Decode(t, &data)
	for _, c := range data {
		return c
	}
	t.Fatalf("no data in %s", r.Raw)
	return cartOut{}
}

func getCart(t *testing.T, s *apitest.Server, token string) cartOut {
	t.Helper()
	return do(t, s, token, `{ cart { `+cartFields+` } }`, nil)
}

func add(t *testing.T, s *apitest.Server, token, vid string, qty int) cartOut {
	t.Helper()
	return do(t, s, token, `mutation($v: ID!, $q: Int!) { addToCart(variantID: $v, quantity: $q) { `+cartFields+` } }`,
		map[string]any{"v": vid, "q": qty})
}

// wantError checks that r failed with code (and field, when given).
func wantError(t *testing.T, r *apitest.Response, code, field string) {
	t.Helper()
	if r.Code() != code || (field != "" && r.Field() != field) {
		t.Fatalf("want %s on %q, got %s on %q: %s", code, field, r.Code(), r.Field(), r.Raw)
	}
}

// A line is added, merged with a second add of the same variant, changed, removed, and
// the cart cleared; lines come newest first and the cart says when it is ready.
func TestCartLifecycle(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		tea := w.variant(t, w.a, product.KindPHYSICAL, "TEA-1", 1990, 20)
		cup := w.variant(t, w.a, product.KindPHYSICAL, "CUP-1", 2500, 5)
		tok := w.buyer.AccessToken

		c := getCart(t, s, tok)
		if len(c.Lines) != 0 || c.Ready || c.Total.Amount != "0.00" || c.Subtotal.Currency != "CNY" {
			t.Fatalf("empty cart: %+v", c)
		}
		add(t, s, tok, tea, 2)
		c = add(t, s, tok, cup, 1)
		if len(c.Lines) != 2 || c.Lines[0].Sku != "CUP-1" || c.Lines[1].Sku != "TEA-1" {
			t.Fatalf("want the newest line first: %+v", c.Lines)
		}
		c = add(t, s, tok, tea, 3)
		if len(c.Lines) != 2 || c.Lines[1].Quantity != 5 || c.Quantity != 6 {
			t.Fatalf("a second add should merge into the line: %+v", c.Lines)
		}
		l := c.Lines[1]
		if l.Title != "Product TEA-1" || l.UnitPrice.Amount != "19.90" || l.LineTotal.Amount != "99.50" ||
			l.Available != 20 || l.problem() != "" || l.ProblemMessage != nil || l.Variant == nil || l.Variant.ID != tea {
			t.Fatalf("line: %+v", l)
		}
		// 99.50 + 25.00 reaches the 99.00 threshold: shipping is free.
		if !c.Ready || c.Subtotal.Amount != "124.50" || c.ShippingFee.Amount != "0.00" || c.Total.Amount != "124.50" {
			t.Fatalf("totals: %+v", c)
		}

		c = do(t, s, tok, `mutation($l: ID!) { updateCartLine(lineID: $l, quantity: 1) { `+cartFields+` } }`, map[string]any{"l": l.ID})
		if c.Lines[1].Quantity != 1 || c.Subtotal.Amount != "44.90" || c.ShippingFee.Amount != "10.00" || c.Total.Amount != "54.90" {
			t.Fatalf("after update: %+v", c)
		}
		c = do(t, s, tok, `mutation($l: ID!) { updateCartLine(lineID: $l, quantity: 0) { `+cartFields+` } }`, map[string]any{"l": l.ID})
		if len(c.Lines) != 1 || c.Lines[0].Sku != "CUP-1" {
			t.Fatalf("quantity 0 should remove the line: %+v", c.Lines)
		}
		c = do(t, s, tok, `mutation($l: ID!) { removeCartLine(lineID: $l) { `+cartFields+` } }`, map[string]any{"l": c.Lines[0].ID})
		if len(c.Lines) != 0 || c.Ready {
			t.Fatalf("after remove: %+v", c)
		}
		add(t, s, tok, tea, 1)
		add(t, s, tok, cup, 1)
		c = do(t, s, tok, `mutation { clearCart { `+cartFields+` } }`, nil)
		if len(c.Lines) != 0 || len(c.Merchants) != 0 || c.Quantity != 0 {
			t.Fatalf("after clear: %+v", c)
		}
		if c := getCart(t, s, tok); len(c.Lines) != 0 {
			t.Fatalf("clear did not persist: %+v", c)
		}
	})
}

// Lines are grouped by merchant in the order each merchant's first line was added, and
// each group ships by its merchant's rule: a flat fee, free from a threshold, free when
// nothing in it ships.
func TestCartGroupsAndShipping(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		teaA := w.variant(t, w.a, product.KindPHYSICAL, "TEA-A", 3000, 100)
		codeB := w.variant(t, w.b, product.KindVIRTUAL, "CODE-B", 1000, 100)
		mugB := w.variant(t, w.b, product.KindPHYSICAL, "MUG-B", 2000, 100)
		tok := w.buyer.AccessToken

		add(t, s, tok, teaA, 1)
		c := add(t, s, tok, codeB, 2)
		if len(c.Merchants) != 2 || c.Merchants[0].Merchant.ID != w.a.ID || c.Merchants[1].Merchant.ID != w.b.ID {
			t.Fatalf("groups in first-added order: %+v", c.Merchants)
		}
		ga, gb := c.Merchants[0], c.Merchants[1]
		if ga.Subtotal.Amount != "30.00" || ga.ShippingFee.Amount != "10.00" || ga.Total.Amount != "40.00" {
			t.Fatalf("flat fee below the threshold: %+v", ga)
		}
		if gb.Subtotal.Amount != "20.00" || gb.ShippingFee.Amount != "0.00" || gb.Total.Amount != "20.00" {
			t.Fatalf("virtual goods ship free: %+v", gb)
		}
		if c.Subtotal.Amount != "50.00" || c.ShippingFee.Amount != "10.00" || c.Total.Amount != "60.00" {
			t.Fatalf("cart totals: %+v", c)
		}

		c = add(t, s, tok, mugB, 1) // b now has something to ship; b has no free threshold
		gb = c.Merchants[1]
		if len(gb.Lines) != 2 || gb.ShippingFee.Amount != "5.00" || gb.Total.Amount != "45.00" {
			t.Fatalf("flat fee of b: %+v", gb)
		}
		if c.Merchants[0].Merchant.ID != w.a.ID {
			t.Fatalf("a newer line must not reorder the groups: %+v", c.Merchants)
		}
		c = add(t, s, tok, teaA, 3) // 120.00 ≥ 99.00
		ga = c.Merchants[0]
		if ga.Subtotal.Amount != "120.00" || ga.ShippingFee.Amount != "0.00" {
			t.Fatalf("free from the threshold: %+v", ga)
		}
		if c.Subtotal.Amount != "160.00" || c.ShippingFee.Amount != "5.00" || c.Total.Amount != "165.00" {
			t.Fatalf("cart totals: %+v", c)
		}
	})
}

// Lines keep showing what changed since they were added, and are left out of the totals.
func TestCartProblems(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		delisted := w.variant(t, w.a, product.KindPHYSICAL, "GONE", 1000, 10)
		short := w.variant(t, w.a, product.KindPHYSICAL, "SHORT", 1000, 10)
		soldOut := w.variant(t, w.a, product.KindSERVICE, "SOLD", 1000, 10)
		fine := w.variant(t, w.a, product.KindPHYSICAL, "FINE", 1000, 10)
		suspended := w.variant(t, w.b, product.KindPHYSICAL, "SUSP", 1000, 10)
		tok := w.buyer.AccessToken
		for _, v := range []string{delisted, short, soldOut, fine, suspended} {
			add(t, s, tok, v, 3)
		}
		if c := getCart(t, s, tok); !c.Ready || c.Subtotal.Amount != "150.00" {
			t.Fatalf("before the changes: %+v", c)
		}

		client, ctx := s.Client()
		if err := w.productOf(t, delisted).Update().SetStatus(product.StatusDELISTED).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		w.setStock(t, short, 2)
		w.setStock(t, soldOut, 0)
		if err := client.Merchant.UpdateOneID(w.b.IntID).SetStatus(merchant.StatusSUSPENDED).Exec(ctx); err != nil {
			t.Fatal(err)
		}

		c := getCart(t, s, tok)
		want := map[string]string{"GONE": "UNAVAILABLE", "SHORT": "INSUFFICIENT_STOCK", "SOLD": "OUT_OF_STOCK", "FINE": "", "SUSP": "UNAVAILABLE"}
		for _, l := range c.Lines {
			if l.problem() != want[l.Sku] {
				t.Errorf("%s: problem %q, want %q", l.Sku, l.problem(), want[l.Sku])
			}
			if (l.problem() == "") != (l.ProblemMessage == nil) {
				t.Errorf("%s: problem %q with message %v", l.Sku, l.problem(), l.ProblemMessage)
			}
			if l.Variant == nil || l.Product == nil || l.Title == "" {
				t.Errorf("%s: the variant should still show: %+v", l.Sku, l)
			}
		}
		gone := c.Lines[4]
		if gone.Sku != "GONE" || gone.Product.Status != "DELISTED" || gone.UnitPrice.Amount != "10.00" {
			t.Fatalf("delisted line: %+v", gone)
		}
		if shortLine := c.Lines[3]; shortLine.Available != 2 {
			t.Fatalf("available: %+v", shortLine)
		}
		// Only FINE can be bought; b has nothing buyable, so it ships nothing.
		if c.Ready || c.Subtotal.Amount != "30.00" || c.ShippingFee.Amount != "10.00" || c.Total.Amount != "40.00" {
			t.Fatalf("totals leave problem lines out: %+v", c)
		}
		if g := c.Merchants[1]; g.Subtotal.Amount != "0.00" || g.ShippingFee.Amount != "0.00" {
			t.Fatalf("a group with nothing buyable: %+v", g)
		}
	})
}

// Nobody sees or changes another customer's cart, and anonymous callers have none.
func TestCartIsPrivate(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		tea := w.variant(t, w.a, product.KindPHYSICAL, "TEA", 1000, 10)
		mine := add(t, s, w.buyer.AccessToken, tea, 1).Lines[0].ID

		if c := getCart(t, s, w.other.AccessToken); len(c.Lines) != 0 {
			t.Fatalf("another customer sees my lines: %+v", c)
		}
		for name, q := range map[string]string{
			"update": `mutation($l: ID!) { updateCartLine(lineID: $l, quantity: 2) { quantity } }`,
			"remove": `mutation($l: ID!) { removeCartLine(lineID: $l) { quantity } }`,
		} {
			t.Run(name, func(t *testing.T) {
				wantError(t, s.Query(w.other.AccessToken, q, map[string]any{"l": mine}), "NOT_FOUND", "lineID")
			})
		}
		r := s.MustQuery(w.other.AccessToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": mine})
		if string(r.Data) != `{"node":null}` {
			t.Fatalf("node of another's line: %s", r.Data)
		}
		// My own line reached by node(id:) still resolves its variant and price.
		r = s.MustQuery(w.buyer.AccessToken, `query($id: ID!) { node(id: $id) { ... on CartLine { quantity sku unitPrice { amount } problem } } }`,
			map[string]any{"id": mine})
		if string(r.Data) != `{"node":{"quantity":1,"sku":"TEA","unitPrice":{"amount":"10.00"},"problem":null}}` {
			t.Fatalf("node of my line: %s", r.Data)
		}
		if c := getCart(t, s, w.buyer.AccessToken); len(c.Lines) != 1 || c.Lines[0].Quantity != 1 {
			t.Fatalf("my cart changed: %+v", c)
		}

		for _, q := range []string{
			`{ cart { quantity } }`,
			`{ addresses { id } }`,
			`mutation { addToCart(variantID: "` + tea + `", quantity: 1) { quantity } }`,
			`mutation { clearCart { quantity } }`,
		} {
			wantError(t, s.Query("", q, nil), "UNAUTHENTICATED", "")
		}
	})
}

// Bad quantities and variants not on sale are refused, naming the argument.
func TestAddToCartRefusals(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		tea := w.variant(t, w.a, product.KindPHYSICAL, "TEA", 1000, 10)
		plenty := w.variant(t, w.a, product.KindVIRTUAL, "PLENTY", 100, 5000)
		draft := w.variant(t, w.a, product.KindPHYSICAL, "DRAFT", 1000, 10)
		closed := w.variant(t, w.b, product.KindPHYSICAL, "CLOSED", 1000, 10)
		client, ctx := s.Client()
		if err := w.productOf(t, draft).Update().SetStatus(product.StatusDRAFT).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := client.Merchant.UpdateOneID(w.b.IntID).SetStatus(merchant.StatusSUSPENDED).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		tok := w.buyer.AccessToken
		add(t, s, tok, tea, 8)
		add(t, s, tok, plenty, 990)

		const addQ = `mutation($v: ID!, $q: Int!) { addToCart(variantID: $v, quantity: $q) { quantity } }`
		for _, c := range []struct {
			name, variant string
			qty           int
			code, field   string
		}{
			{"zero", tea, 0, "BAD_USER_INPUT", "quantity"},
			{"negative", tea, -1, "BAD_USER_INPUT", "quantity"},
			{"above the line limit", tea, 1000, "BAD_USER_INPUT", "quantity"},
			{"merged above the stock", tea, 3, "BAD_USER_INPUT", "quantity"},
			{"merged above the line limit", plenty, 10, "BAD_USER_INPUT", "quantity"},
			{"no such variant", "999999", 1, "NOT_FOUND", "variantID"},
			{"draft product", draft, 1, "NOT_FOUND", "variantID"},
			{"suspended merchant", closed, 1, "NOT_FOUND", "variantID"},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantError(t, s.Query(tok, addQ, map[string]any{"v": c.variant, "q": c.qty}), c.code, c.field)
			})
		}
		r := s.Query(tok, addQ, map[string]any{"v": tea, "q": 3})
		if avail, _ := r.Errors[0].Extensions["available"].(float64); avail != 10 {
			t.Fatalf("the refusal should say how many are available: %s", r.Raw)
		}

		c := getCart(t, s, tok)
		line := c.Lines[1].ID // TEA, 8 of 10
		const updQ = `mutation($l: ID!, $q: Int!) { updateCartLine(lineID: $l, quantity: $q) { quantity } }`
		for _, q := range []int{-1, 1000, 11} {
			wantError(t, s.Query(tok, updQ, map[string]any{"l": line, "q": q}), "BAD_USER_INPUT", "quantity")
		}
		// Lowering is always allowed, even below a stock that has since shrunk.
		w.setStock(t, tea, 3)
		s.MustQuery(tok, updQ, map[string]any{"l": line, "q": 5})
		wantError(t, s.Query(tok, updQ, map[string]any{"l": "999999", "q": 1}), "NOT_FOUND", "lineID")
		if c := getCart(t, s, tok); c.Quantity != 995 {
			t.Fatalf("refused changes must change nothing: %+v", c)
		}
	})
}

// A cart holds at most cart.MaxLines lines.
func TestCartLineLimit(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		client, ctx := s.Client()
		p := client.Product.Create().SetMerchantID(w.a.IntID).SetTitle("Stickers").SetStatus(product.StatusACTIVE).SaveX(ctx)
		uid, _ := strconv.Atoi(w.buyer.UserID)
		var last string
		for i := 0; i <= cart.MaxLines; i++ {
			v := client.ProductVariant.Create().SetProductID(p.ID).SetMerchantID(w.a.IntID).
				SetSku(fmt.Sprintf("S-%d", i)).SetPrice(100).SetStock(10).SaveX(ctx)
			if i < cart.MaxLines {
				client.CartLine.Create().SetUserID(uid).SetVariantID(v.ID).SetQuantity(1).ExecX(ctx)
			} else {
				last = strconv.Itoa(v.ID)
			}
		}
		r := s.Query(w.buyer.AccessToken, `mutation($v: ID!) { addToCart(variantID: $v, quantity: 1) { quantity } }`, map[string]any{"v": last})
		wantError(t, r, "BAD_USER_INPUT", "variantID")
		// Adding to a line already there is still allowed.
		first := client.CartLine.Query().FirstX(ctx)
		add(t, s, w.buyer.AccessToken, strconv.Itoa(first.VariantID), 1)
	})
}

// Concurrent adds of one variant make one line holding all of them.
func TestConcurrentAddsMerge(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		tea := w.variant(t, w.a, product.KindPHYSICAL, "TEA", 1000, 100)
		const n = 8
		var wg sync.WaitGroup
		codes := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := s.Query(w.buyer.AccessToken, `mutation($v: ID!) { addToCart(variantID: $v, quantity: 1) { quantity } }`, map[string]any{"v": tea})
				codes[i] = r.Code()
			}()
		}
		wg.Wait()
		for i, c := range codes {
			if c != "" {
				t.Fatalf("add %d failed with %s", i, c)
			}
		}
		c := getCart(t, s, w.buyer.AccessToken)
		if len(c.Lines) != 1 || c.Lines[0].Quantity != n {
			t.Fatalf("want one line of %d: %+v", n, c.Lines)
		}
	})
}

// countingDriver counts the statements sent through it.
type countingDriver struct {
	dialect.Driver
	n *atomic.Int64
}

func (d countingDriver) Query(ctx context.Context, query string, args, v any) error {
	d.n.Add(1)
	return d.Driver.Query(ctx, query, args, v)
}

// Reading a cart costs the same few statements however many lines and merchants it has.
func TestLoadStatementsAreConstant(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		var n atomic.Int64
		counted := ent.NewClient(ent.Driver(countingDriver{Driver: entsql.OpenDB(s.DB.Dialect, s.DB.SQL), n: &n}))
		uid, _ := strconv.Atoi(w.buyer.UserID)
		ctx := viewer.NewContext(context.Background(), &viewer.Viewer{UserID: uid, Roles: []viewer.Role{viewer.RoleCustomer}})
		count := func() int64 {
			t.Helper()
			before := n.Load()
			if _, err := cart.Load(ctx, counted, uid); err != nil {
				t.Fatal(err)
			}
			return n.Load() - before
		}
		add(t, s, w.buyer.AccessToken, w.variant(t, w.a, product.KindPHYSICAL, "ONE", 100, 10), 1)
		one := count()
		for i := range 6 {
			m := w.a
			if i%2 == 0 {
				m = w.b
			}
			add(t, s, w.buyer.AccessToken, w.variant(t, m, product.KindPHYSICAL, fmt.Sprintf("MORE-%d", i), 100, 10), 1)
		}
		if many := count(); many != one || one > 4 {
			t.Fatalf("one line took %d statements, seven took %d; want the same, at most 4", one, many)
		}
	})
}
