package orders_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/internal/apitest"
)

// hiddenVariant is a variant nobody but its merchant's staff and admins may see.
type hiddenVariant struct {
	why, secret string // the secret is the title, which must never show
	id          int
}

// hiddenCatalog gives shop a draft and a delisted product, and makes a pending and a
// suspended merchant with a product on sale each; it returns their variants.
func hiddenCatalog(t *testing.T, s *apitest.Server, shop apitest.Merchant) []hiddenVariant {
	t.Helper()
	client, ctx := s.Client()
	var out []hiddenVariant
	add := func(why string, m apitest.Merchant, status product.Status) {
		secret := "秘密 " + why + " " + strings.ReplaceAll(why, " ", "-")
		pid, vid := s.NewProduct(t, m, secret, product.KindPHYSICAL, "SECRET-"+strconv.Itoa(len(out)), 1234, 7)
		client.Product.UpdateOneID(pid).SetStatus(status).ExecX(ctx)
		out = append(out, hiddenVariant{why: why, secret: secret, id: vid})
	}
	add("draft product", shop, product.StatusDRAFT)
	add("delisted product", shop, product.StatusDELISTED)
	add("pending merchant", s.NewMerchant(t, "pending-shop", merchant.StatusPENDING_REVIEW), product.StatusACTIVE)
	add("suspended merchant", s.NewMerchant(t, "suspended-shop", merchant.StatusSUSPENDED), product.StatusACTIVE)
	add("restricted merchant", s.NewMerchant(t, "restricted-shop", merchant.StatusRESTRICTED), product.StatusACTIVE)
	return out
}

// Walking variant ids with placeOrder or addToCart tells nothing about hidden products: a
// variant the caller may not see answers exactly like an id that never existed — same
// code, field and message — and never names the product or its merchant. Merchant staff
// of another shop are callers like any other.
func TestHiddenVariantsAreNotFoundWhenBought(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		onSale := w.variant(t, w.a, product.KindPHYSICAL, "TEA-1", 3800, 10)
		hidden := hiddenCatalog(t, s, w.a)
		missing := hidden[len(hidden)-1].id + 1000
		client, ctx := s.Client()
		if client.ProductVariant.Query().Where(productvariant.ID(missing)).ExistX(ctx) {
			t.Fatal("the missing variant exists")
		}

		key := 0
		place := func(token string, variant int) *apitest.Response {
			key++
			return s.Query(token, placeMutation, map[string]any{"i": map[string]any{
				"lines": []any{line(onSale, 1), line(variant, 1)}, "shippingAddress": address,
				"idempotencyKey": fmt.Sprintf("walk-%06d", key)}})
		}
		addToCart := func(token string, variant int) *apitest.Response {
			return s.Query(token, `mutation($v: ID!) { addToCart(variantID: $v, quantity: 1) { quantity } }`,
				map[string]any{"v": strconv.Itoa(variant)})
		}
		type answer struct{ code, field, message string }
		answerOf := func(r *apitest.Response) answer {
			if len(r.Errors) == 0 {
				return answer{}
			}
			return answer{r.Code(), r.Field(), r.Errors[0].Message}
		}

		for name, token := range map[string]string{
			"customer":             w.buyer.AccessToken,
			"another shop's owner": w.b.Owner.AccessToken,
		} {
			t.Run(name, func(t *testing.T) {
				for _, try := range []struct {
					what string
					do   func(string, int) *apitest.Response
					want answer
				}{
					{"placeOrder", place, answer{"NOT_FOUND", "lines[1]", "no such product variant on sale"}},
					{"addToCart", addToCart, answer{"NOT_FOUND", "variantID", "no such variant on sale"}},
				} {
					if got := answerOf(try.do(token, missing)); got != try.want {
						t.Fatalf("%s of a missing variant: %+v, want %+v", try.what, got, try.want)
					}
					for _, h := range hidden {
						r := try.do(token, h.id)
						if got := answerOf(r); got != try.want {
							t.Errorf("%s of a variant of a %s: %+v, want %+v like a missing one", try.what, h.why, got, try.want)
						}
						for _, leak := range []string{h.secret, "pending-shop", "suspended-shop", "restricted-shop"} {
							if r.Contains(leak) {
								t.Errorf("%s of a variant of a %s names %q: %s", try.what, h.why, leak, r.Raw)
							}
						}
					}
				}
			})
		}

		// The shop's own staff see its draft, so they are told why they cannot buy it.
		r := place(w.a.Owner.AccessToken, hidden[0].id)
		if r.Code() != "CONFLICT" || r.Field() != "lines[1]" || r.Errors[0].Extensions["reason"] != "UNAVAILABLE" {
			t.Errorf("own draft: %s", r.Raw)
		}
		if n := client.Order.Query().CountX(ctx); n != 0 {
			t.Errorf("%d orders placed", n)
		}
	})
}

// A line in the cart whose product was hidden afterwards is refused at checkout like any
// hidden variant, and raising its quantity says nothing about its stock.
func TestHiddenCartLinesAreNotFoundAtCheckout(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newShop(t, s)
		pid, vid := s.NewProduct(t, w.a, "Lamp", product.KindPHYSICAL, "LAMP-1", 5000, 3)
		var cart struct {
			AddToCart struct {
				Lines []struct{ ID string }
			}
		}
		s.MustQuery(w.buyer.AccessToken, `mutation($v: ID!) { addToCart(variantID: $v, quantity: 1) { lines { id } } }`,
			map[string]any{"v": strconv.Itoa(vid)}).Decode(t, &cart)
		lineID := cart.AddToCart.Lines[0].ID

		client, ctx := s.Client()
		client.Product.UpdateOneID(pid).SetStatus(product.StatusDELISTED).SetTitle("秘密 new edition").ExecX(ctx)
		client.ProductVariant.UpdateOneID(vid).SetStock(1).ExecX(ctx)

		r := s.Query(w.buyer.AccessToken, placeMutation, map[string]any{"i": map[string]any{
			"fromCart": true, "shippingAddress": address, "idempotencyKey": "from-cart-0001"}})
		if r.Code() != "NOT_FOUND" || r.Field() != "cartLineIDs[0]" || r.Contains("秘密") {
			t.Errorf("checkout of a hidden cart line: %s", r.Raw)
		}
		r = s.Query(w.buyer.AccessToken, `mutation($l: ID!) { updateCartLine(lineID: $l, quantity: 2) { quantity } }`,
			map[string]any{"l": lineID})
		if r.Code() != "CONFLICT" || r.Field() != "lineID" || r.Errors[0].Extensions["available"] != nil {
			t.Errorf("raising a hidden line: %s", r.Raw)
		}
		// Lowering it, or removing it, is always allowed.
		s.MustQuery(w.buyer.AccessToken, `mutation($l: ID!) { updateCartLine(lineID: $l, quantity: 0) { quantity } }`,
			map[string]any{"l": lineID})
	})
}
