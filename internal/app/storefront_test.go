package app_test

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/apitest"
)

// storefrontItem is one product of the storefront fixture.
type storefrontItem struct {
	key, merchant, category string
	title, description      string
	attrs                   []schematype.Attribute
	status                  product.Status
	kind                    product.Kind
	prices                  []int64 // one variant per price
	stocks                  []int
	sales                   int
	rating                  float64
	age, touched            time.Duration // created and last updated this long ago
}

// shipsNote is shared by several descriptions, so a search for 发货 ties them all.
const shipsNote = "下单后48小时内发货。"

// storefrontItems is the catalogue: eight products on sale, and products the public must
// never see (drafts, delisted, and an ACTIVE product of a merchant still under review).
var storefrontItems = []storefrontItem{
	{key: "longjing", merchant: "tea", category: "green-tea", title: "西湖龙井 West Lake Longjing",
		description: "明前春茶，豆香浓郁。" + shipsNote + " Pre-Qingming spring tea.",
		attrs:       []schematype.Attribute{{Name: "等级 Grade", Value: "特级 Special grade"}},
		prices:      []int64{3800, 8800}, stocks: []int{10, 5}, sales: 120, rating: 4.8, age: 10, touched: 3},
	{key: "tieguanyin", merchant: "tea", category: "tea", title: "安溪铁观音 Anxi Tieguanyin",
		description: "兰花香，七泡有余香。" + shipsNote,
		prices:      []int64{5800}, stocks: []int{0}, sales: 300, rating: 4.5, age: 9, touched: 8},
	{key: "teapot", merchant: "tea", category: "teaware", title: "宜兴紫砂壶 Yixing clay teapot",
		description: "适合冲泡龙井与乌龙茶。" + shipsNote + " Brews Longjing and oolong well.",
		attrs:       []schematype.Attribute{{Name: "材质 Material", Value: "紫砂 Zisha clay"}},
		prices:      []int64{12800}, stocks: []int{3}, sales: 15, rating: 4.9, age: 8, touched: 1},
	{key: "giftcard", merchant: "tea", category: "gift-cards", title: "茶语轩电子礼品卡 Tea House e-gift card",
		description: "付款后兑换码即时发放。", kind: product.KindVIRTUAL,
		prices: []int64{10000, 20000}, stocks: []int{999, 999}, sales: 50, rating: 0, age: 7, touched: 6},
	{key: "earbuds", merchant: "gadgets", category: "audio", title: "降噪蓝牙耳机 Noise-cancelling Bluetooth earbuds",
		description: "主动降噪，通勤地铁也能安静听歌。" + shipsNote,
		attrs: []schematype.Attribute{{Name: "续航 Battery life", Value: "24小时 24 hours"},
			{Name: "发货地 Ships from", Value: "深圳 Shenzhen"}},
		prices: []int64{29900, 32900}, stocks: []int{20, 0}, sales: 800, rating: 4.6, age: 6, touched: 5},
	{key: "speaker", merchant: "gadgets", category: "audio", title: "便携蓝牙音箱 Portable Bluetooth speaker",
		description: "小巧便携，户外派对。" + shipsNote,
		prices:      []int64{19900}, stocks: []int{7}, sales: 80, rating: 4.2, age: 5, touched: 2},
	{key: "headphones", merchant: "gadgets", category: "audio", title: "蓝牙头戴耳机 Bluetooth over-ear headphones",
		description: "头戴舒适，长时间佩戴不累。",
		prices:      []int64{59900}, stocks: []int{2}, sales: 40, rating: 4.7, age: 4, touched: 7},
	{key: "repair", merchant: "gadgets", category: "repairs", title: "手机屏幕更换 Phone screen replacement",
		description: "原厂品质配件。", kind: product.KindSERVICE,
		prices: []int64{4900}, stocks: []int{10}, sales: 5, rating: 4.0, age: 3, touched: 4},

	{key: "draft", merchant: "tea", category: "tea", title: "龙井新茶预售 Longjing pre-sale", status: product.StatusDRAFT,
		prices: []int64{6800}, stocks: []int{100}, age: 1, touched: 1},
	{key: "delisted", merchant: "tea", category: "tea", title: "龙井陈茶 Old Longjing", status: product.StatusDELISTED,
		prices: []int64{1800}, stocks: []int{4}, age: 20, touched: 20},
	{key: "gadget-draft", merchant: "gadgets", category: "audio", title: "蓝牙耳机二代 Bluetooth earbuds 2", status: product.StatusDRAFT,
		prices: []int64{39900}, stocks: []int{0}, age: 2, touched: 2},
	{key: "pending-longjing", merchant: "pending", category: "green-tea", title: "西湖龙井 West Lake Longjing",
		prices: []int64{2800}, stocks: []int{50}, sales: 9, rating: 3, age: 2, touched: 2},
}

// onSaleKeys are the products the public sees.
var onSaleKeys = []string{"longjing", "tieguanyin", "teapot", "giftcard", "earbuds", "speaker", "headphones", "repair"}

// storefront is the fixture: merchants, a three-level category tree, the catalogue.
type storefront struct {
	s                     *apitest.Server
	tea, gadgets, pending apitest.Merchant
	category              map[string]int    // slug → id
	id                    map[string]string // item key → GraphQL id
	key                   map[string]string // GraphQL id → item key
	item                  map[string]storefrontItem
}

func newStorefront(t *testing.T, s *apitest.Server) *storefront {
	t.Helper()
	f := &storefront{s: s, category: map[string]int{}, id: map[string]string{}, key: map[string]string{}, item: map[string]storefrontItem{}}
	f.tea = s.NewMerchant(t, "tea-house", merchant.StatusACTIVE)
	f.gadgets = s.NewMerchant(t, "gadgets", merchant.StatusACTIVE)
	f.pending = s.NewMerchant(t, "pending-shop", merchant.StatusPENDING_REVIEW)
	merchants := map[string]int{"tea": f.tea.IntID, "gadgets": f.gadgets.IntID, "pending": f.pending.IntID}

	client, ctx := s.Client()
	tree := []struct{ slug, name, parent string }{
		{"food", "茶饮食品", ""}, {"tea", "茶叶", "food"}, {"green-tea", "绿茶", "tea"}, {"teaware", "茶具", "food"},
		{"electronics", "数码电子", ""}, {"audio", "耳机音箱", "electronics"},
		{"services", "生活服务", ""}, {"gift-cards", "礼品卡", "services"}, {"repairs", "维修服务", "services"},
	}
	for i, c := range tree {
		cc := client.Category.Create().SetName(c.name).SetSlug(c.slug).SetPosition(i)
		if c.parent != "" {
			cc.SetParentID(f.category[c.parent])
		}
		f.category[c.slug] = cc.SaveX(ctx).ID
	}

	now := time.Now().UTC().Truncate(time.Second)
	day := func(d time.Duration) time.Time { return now.Add(-d * 24 * time.Hour) }
	for _, it := range storefrontItems {
		status, kind := cmp.Or(it.status, product.StatusACTIVE), cmp.Or(it.kind, product.KindPHYSICAL)
		total := 0
		for _, n := range it.stocks {
			total += n
		}
		p := client.Product.Create().
			SetMerchantID(merchants[it.merchant]).SetCategoryID(f.category[it.category]).
			SetTitle(it.title).SetDescription(it.description).SetAttributes(it.attrs).
			SetImages([]schematype.Image{{URL: "https://img.example.com/" + it.key + ".jpg", Alt: it.title}}).
			SetStatus(status).SetKind(kind).SetSalesCount(it.sales).
			SetRatingAverage(it.rating).SetRatingCount(int(it.rating * 10)).
			SetMinPrice(slices.Min(it.prices)).SetMaxPrice(slices.Max(it.prices)).
			SetTotalStock(total).SetVariantCount(len(it.prices)).
			SetCreatedAt(day(it.age)).SetUpdatedAt(day(it.touched)).
			SaveX(ctx)
		for i, price := range it.prices {
			client.ProductVariant.Create().SetProductID(p.ID).SetMerchantID(p.MerchantID).
				SetSku(fmt.Sprintf("%s-%d", strings.ToUpper(it.key), i+1)).
				SetPrice(price).SetStock(it.stocks[i]).SetPosition(i).SaveX(ctx)
		}
		// Variant writes may touch the product's aggregates and update time; pin them.
		client.Product.UpdateOneID(p.ID).
			SetMinPrice(slices.Min(it.prices)).SetMaxPrice(slices.Max(it.prices)).SetTotalStock(total).
			SetUpdatedAt(day(it.touched)).ExecX(ctx)
		id := strconv.Itoa(p.ID)
		f.id[it.key], f.key[id], f.item[it.key] = id, it.key, it
	}
	return f
}

const listProducts = `query($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: ProductFilter, $orderBy: ProductOrder) {
  products(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id title } }
  }
}`

// productPage is a decoded products connection.
type productPage struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
	Edges []struct {
		Cursor string
		Node   struct{ ID, Title string }
	}
}

// list asks for one page of products; vars holds first/after/last/before/where/orderBy.
func (f *storefront) list(t *testing.T, token string, vars map[string]any) productPage {
	t.Helper()
	r := f.s.MustQuery(token, listProducts, vars)
	var out struct{ Products productPage }
	r.Decode(t, &out)
	return out.Products
}

// keys maps a page's nodes to fixture keys.
func (f *storefront) keys(p productPage) []string {
	out := make([]string, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = f.key[e.Node.ID]
	}
	return out
}

// all returns the keys of the whole list (one page of 100) and checks totalCount.
func (f *storefront) all(t *testing.T, token string, where, orderBy map[string]any) []string {
	t.Helper()
	vars := map[string]any{"first": 100}
	if where != nil {
		vars["where"] = where
	}
	if orderBy != nil {
		vars["orderBy"] = orderBy
	}
	p := f.list(t, token, vars)
	if p.TotalCount != len(p.Edges) || p.PageInfo.HasNextPage {
		t.Fatalf("where %v: totalCount %d, %d edges, hasNextPage %v", where, p.TotalCount, len(p.Edges), p.PageInfo.HasNextPage)
	}
	return f.keys(p)
}

// walk pages through the list size at a time, forward from the start or backward from
// the end, and returns the keys in list order.
func (f *storefront) walk(t *testing.T, where, orderBy map[string]any, size int, backward bool) []string {
	t.Helper()
	var out []string
	var cursor *string
	for range 50 {
		vars := map[string]any{}
		if where != nil {
			vars["where"] = where
		}
		if orderBy != nil {
			vars["orderBy"] = orderBy
		}
		if backward {
			vars["last"] = size
			if cursor != nil {
				vars["before"] = *cursor
			}
		} else {
			vars["first"] = size
			if cursor != nil {
				vars["after"] = *cursor
			}
		}
		p := f.list(t, "", vars)
		if len(p.Edges) > size {
			t.Fatalf("page of %d edges for size %d", len(p.Edges), size)
		}
		if backward {
			out = append(f.keys(p), out...)
			if !p.PageInfo.HasPreviousPage {
				return out
			}
			cursor = p.PageInfo.StartCursor
		} else {
			out = append(out, f.keys(p)...)
			if !p.PageInfo.HasNextPage {
				return out
			}
			cursor = p.PageInfo.EndCursor
		}
		if cursor == nil {
			t.Fatal("a page with more to come has no cursor")
		}
	}
	t.Fatal("pagination did not end")
	return nil
}

// sortedKeys returns keys ordered by less (ties are not expected in the fixture).
func sortedKeys(keys []string, less func(a, b string) int) []string {
	out := slices.Clone(keys)
	slices.SortStableFunc(out, less)
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestStorefrontFilters(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		f := newStorefront(t, s)
		id := func(n int) string { return strconv.Itoa(n) }
		for _, tc := range []struct {
			name  string
			where map[string]any
			want  []string
		}{
			{"no filter: what is on sale", nil, onSaleKeys},
			{"merchant", map[string]any{"merchantID": f.tea.ID}, []string{"longjing", "tieguanyin", "teapot", "giftcard"}},
			{"top category takes its whole subtree", map[string]any{"categoryID": id(f.category["food"])}, []string{"longjing", "tieguanyin", "teapot"}},
			{"middle category takes its children", map[string]any{"categoryID": id(f.category["tea"])}, []string{"longjing", "tieguanyin"}},
			{"leaf category", map[string]any{"categoryID": id(f.category["green-tea"])}, []string{"longjing"}},
			{"category with nothing on sale", map[string]any{"categoryID": id(f.category["electronics"]), "kind": "SERVICE"}, []string{}},
			{"kind VIRTUAL", map[string]any{"kind": "VIRTUAL"}, []string{"giftcard"}},
			{"kind SERVICE", map[string]any{"kind": "SERVICE"}, []string{"repair"}},
			{"minPrice compares the lowest price", map[string]any{"minPrice": "100.00"}, []string{"teapot", "giftcard", "earbuds", "speaker", "headphones"}},
			{"maxPrice is inclusive", map[string]any{"maxPrice": "58"}, []string{"longjing", "tieguanyin", "repair"}},
			{"price range", map[string]any{"minPrice": "40", "maxPrice": "60.5"}, []string{"tieguanyin", "repair"}},
			{"in stock", map[string]any{"inStock": true}, []string{"longjing", "teapot", "giftcard", "earbuds", "speaker", "headphones", "repair"}},
			{"inStock false does not filter", map[string]any{"inStock": false}, onSaleKeys},
			{"keyword", map[string]any{"keyword": "龙井"}, []string{"longjing", "teapot"}},
			{"keyword of stop words only", map[string]any{"keyword": "the and"}, []string{}},
			{"blank keyword does not filter", map[string]any{"keyword": "   "}, onSaleKeys},
			{"filters combine", map[string]any{"categoryID": id(f.category["food"]), "inStock": true, "keyword": "longjing"}, []string{"longjing", "teapot"}},
			{"status ACTIVE for the public is what is on sale", map[string]any{"status": "ACTIVE"}, onSaleKeys},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := f.all(t, "", tc.where, nil); !sameSet(got, tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
	})
}

func TestStorefrontOrders(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		f := newStorefront(t, s)
		by := func(field func(it storefrontItem) float64) func(a, b string) int {
			return func(a, b string) int { return cmp.Compare(field(f.item[a]), field(f.item[b])) }
		}
		fields := map[string]func(a, b string) int{
			// Older items have a larger age: newer means a smaller age.
			"CREATED_AT":  by(func(it storefrontItem) float64 { return -float64(it.age) }),
			"UPDATED_AT":  by(func(it storefrontItem) float64 { return -float64(it.touched) }),
			"PRICE":       by(func(it storefrontItem) float64 { return float64(slices.Min(it.prices)) }),
			"SALES_COUNT": by(func(it storefrontItem) float64 { return float64(it.sales) }),
			"RATING":      by(func(it storefrontItem) float64 { return it.rating }),
			"TITLE":       func(a, b string) int { return strings.Compare(f.item[a].title, f.item[b].title) },
		}
		for field, less := range fields {
			for _, dir := range []string{"ASC", "DESC"} {
				t.Run(field+" "+dir, func(t *testing.T) {
					want := sortedKeys(onSaleKeys, less)
					if dir == "DESC" {
						slices.Reverse(want)
					}
					got := f.all(t, "", nil, map[string]any{"field": field, "direction": dir})
					if !slices.Equal(got, want) {
						t.Fatalf("got %v, want %v", got, want)
					}
				})
			}
		}
		t.Run("default is newest first", func(t *testing.T) {
			want := sortedKeys(onSaleKeys, fields["CREATED_AT"])
			slices.Reverse(want)
			if got := f.all(t, "", nil, nil); !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
		t.Run("keyword with orderBy filters and orders by the field", func(t *testing.T) {
			got := f.all(t, "", map[string]any{"keyword": "蓝牙"}, map[string]any{"field": "PRICE", "direction": "ASC"})
			if want := []string{"speaker", "earbuds", "headphones"}; !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	})
}

func TestStorefrontPagination(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		f := newStorefront(t, s)
		for _, tc := range []struct {
			name           string
			where, orderBy map[string]any
		}{
			{"newest first", nil, nil},
			{"price ascending", nil, map[string]any{"field": "PRICE", "direction": "ASC"}},
			{"title descending", nil, map[string]any{"field": "TITLE", "direction": "DESC"}},
			// Five products share the shipping note: the earbuds, whose attributes name it
			// too, come first, and the other four tie on score, so their order rests on the
			// id tie-breaker of the relevance cursor.
			{"relevance", map[string]any{"keyword": "发货"}, nil},
			{"keyword ordered by a field", map[string]any{"keyword": "发货"}, map[string]any{"field": "SALES_COUNT", "direction": "DESC"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				want := f.all(t, "", tc.where, tc.orderBy)
				if len(want) < 5 {
					t.Fatalf("the case needs a longer list: %v", want)
				}
				for _, size := range []int{1, 2, 3} {
					if got := f.walk(t, tc.where, tc.orderBy, size, false); !slices.Equal(got, want) {
						t.Fatalf("forward by %d: got %v, want %v", size, got, want)
					}
					if got := f.walk(t, tc.where, tc.orderBy, size, true); !slices.Equal(got, want) {
						t.Fatalf("backward by %d: got %v, want %v", size, got, want)
					}
				}
			})
		}

		t.Run("relevance page info", func(t *testing.T) {
			where := map[string]any{"keyword": "发货"}
			first := f.list(t, "", map[string]any{"first": 2, "where": where})
			if first.TotalCount != 5 || !first.PageInfo.HasNextPage || first.PageInfo.HasPreviousPage || len(first.Edges) != 2 {
				t.Fatalf("first page: %+v", first)
			}
			next := f.list(t, "", map[string]any{"first": 2, "after": *first.PageInfo.EndCursor, "where": where})
			if !next.PageInfo.HasPreviousPage || !next.PageInfo.HasNextPage || next.Edges[0].Cursor == first.Edges[1].Cursor {
				t.Fatalf("second page: %+v", next)
			}
			// A cursor of another order is refused, not misread.
			other := f.list(t, "", map[string]any{"first": 1, "orderBy": map[string]any{"field": "CREATED_AT", "direction": "DESC"}})
			r := s.Query("", listProducts, map[string]any{"first": 2, "after": *other.PageInfo.EndCursor, "where": where})
			if r.Code() != "BAD_USER_INPUT" || r.Field() != "after" {
				t.Fatalf("foreign cursor: %s", r.Raw)
			}
		})
	})
}

func TestStorefrontKeywordSearch(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		f := newStorefront(t, s)
		for _, tc := range []struct {
			keyword string
			want    []string // in rank order
		}{
			// The title match outranks the description match; drafts, delisted products
			// and the pending merchant's Longjing never show.
			{"龙井", []string{"longjing", "teapot"}},
			{"longjing", []string{"longjing", "teapot"}},
			{"LONGJING", []string{"longjing", "teapot"}},
			{"ｌｏｎｇｊｉｎｇ", []string{"longjing", "teapot"}}, // full-width
			// 龙井茶 needs one of its two bigrams: 龙井 matches, 井茶 does not.
			{"龙井茶", []string{"longjing", "teapot"}},
			{"西湖龙井", []string{"longjing"}},
			// All three bigrams beat two; 便携蓝牙音箱 has only 蓝牙 and is left out.
			{"蓝牙耳机", []string{"earbuds", "headphones"}},
			// Words typed in another order still find the product.
			{"蓝牙降噪耳机", []string{"earbuds"}},
			{"bluetooth earbuds", []string{"earbuds"}},
			{"earbud", []string{"earbuds"}},
			{"teapots", []string{"teapot"}},
			// Equal scores: the newest first.
			{"bluetooth", []string{"headphones", "speaker", "earbuds"}},
			// A lone character finds every product with a word starting or ending in it.
			{"壶", []string{"teapot"}},
			{"茶", []string{"giftcard", "longjing", "teapot"}},
			{"no such thing", []string{}},
		} {
			t.Run(tc.keyword, func(t *testing.T) {
				got := f.all(t, "", map[string]any{"keyword": tc.keyword}, nil)
				switch {
				case len(tc.want) > 0 && (len(got) == 0 || got[0] != tc.want[0]):
					t.Fatalf("best match: got %v, want %v first", got, tc.want)
				case !sameSet(got, tc.want):
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
		t.Run("more matched terms rank first", func(t *testing.T) {
			got := f.all(t, "", map[string]any{"keyword": "蓝牙耳机"}, nil)
			if !slices.Equal(got, []string{"earbuds", "headphones"}) {
				t.Fatalf("got %v", got)
			}
		})
		t.Run("the index follows edits", func(t *testing.T) {
			client, ctx := s.Client()
			id, _ := strconv.Atoi(f.id["speaker"])
			client.Product.UpdateOneID(id).SetTitle("便携音箱 Portable speaker").SetDescription("").ExecX(ctx)
			if got := f.all(t, "", map[string]any{"keyword": "bluetooth"}, nil); !sameSet(got, []string{"earbuds", "headphones"}) {
				t.Fatalf("after retitling: %v", got)
			}
			if got := f.all(t, "", map[string]any{"keyword": "便携音箱"}, nil); !slices.Equal(got, []string{"speaker"}) {
				t.Fatalf("new title: %v", got)
			}
		})
	})
}

func TestStorefrontVisibility(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		f := newStorefront(t, s)
		admin := s.NewAdmin(t, "admin@example.com")
		teaStaff := s.AddStaff(t, f.tea, "staff@tea.example.com")

		hidden := []string{"draft", "delisted", "gadget-draft", "pending-longjing"}
		t.Run("the public never sees what is not on sale", func(t *testing.T) {
			for _, where := range []map[string]any{
				nil, {"keyword": "龙井"}, {"keyword": "longjing"}, {"status": "DRAFT"}, {"status": "DELISTED"},
				{"merchantID": f.pending.ID, "status": "ACTIVE"}, {"categoryID": strconv.Itoa(f.category["food"])},
			} {
				for _, k := range f.all(t, "", where, nil) {
					if slices.Contains(hidden, k) {
						t.Fatalf("where %v shows %s", where, k)
					}
				}
			}
			for _, k := range hidden {
				r := s.MustQuery("", `query($id: ID!) { node(id: $id) { id } product(id: $id) { id } }`, map[string]any{"id": f.id[k]})
				if string(r.Data) != `{"node":null,"product":null}` {
					t.Fatalf("%s by id: %s", k, r.Raw)
				}
			}
			r := s.MustQuery("", `query($id: ID!) { node(id: $id) { ... on Merchant { products(first: 50) { edges { node { id } } } } } }`,
				map[string]any{"id": f.tea.ID})
			for _, k := range []string{"draft", "delisted"} {
				if r.Contains(`"` + f.id[k] + `"`) {
					t.Fatalf("merchant.products shows %s: %s", k, r.Raw)
				}
			}
			if !r.Contains(`"`+f.id["longjing"]+`"`) || !r.Contains(`"`+f.id["giftcard"]+`"`) {
				t.Fatalf("merchant.products: %s", r.Raw)
			}
			if r := s.MustQuery("", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": f.pending.ID}); string(r.Data) != `{"node":null}` {
				t.Fatalf("pending merchant: %s", r.Raw)
			}
			for _, slug := range []string{"tea", "green-tea"} {
				r := s.MustQuery("", `query($s: String!) { categoryBySlug(slug: $s) { products(first: 50) { edges { node { id } } } } }`, map[string]any{"s": slug})
				for _, k := range hidden {
					if r.Contains(`"` + f.id[k] + `"`) {
						t.Fatalf("category %s shows %s: %s", slug, k, r.Raw)
					}
				}
			}
		})

		for _, tc := range []struct {
			name, token string
			where       map[string]any
			want        []string
		}{
			{"owner lists own drafts", f.tea.Owner.AccessToken, map[string]any{"status": "DRAFT"}, []string{"draft"}},
			{"staff lists own drafts", teaStaff.AccessToken, map[string]any{"status": "DRAFT"}, []string{"draft"}},
			{"staff lists own delisted", teaStaff.AccessToken, map[string]any{"status": "DELISTED"}, []string{"delisted"}},
			{"staff cannot list another merchant's drafts", teaStaff.AccessToken, map[string]any{"status": "DRAFT", "merchantID": f.gadgets.ID}, []string{}},
			{"other merchant lists only its drafts", f.gadgets.Owner.AccessToken, map[string]any{"status": "DRAFT"}, []string{"gadget-draft"}},
			{"staff without status see the public list", teaStaff.AccessToken, nil, onSaleKeys},
			{"pending merchant's owner sees its ACTIVE product with status", f.pending.Owner.AccessToken, map[string]any{"status": "ACTIVE", "merchantID": f.pending.ID}, []string{"pending-longjing"}},
			{"pending merchant's owner without status sees the public list", f.pending.Owner.AccessToken, map[string]any{"merchantID": f.pending.ID}, []string{}},
			{"admin lists every draft", admin.AccessToken, map[string]any{"status": "DRAFT"}, []string{"draft", "gadget-draft"}},
			{"staff search own drafts", teaStaff.AccessToken, map[string]any{"status": "DRAFT", "keyword": "龙井"}, []string{"draft"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := f.all(t, tc.token, tc.where, nil); !sameSet(got, tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
	})
}

func TestStorefrontBadInput(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		for _, tc := range []struct {
			name  string
			where map[string]any
			field string
		}{
			{"not a number", map[string]any{"minPrice": "ten"}, "where.minPrice"},
			{"too many decimals", map[string]any{"maxPrice": "1.234"}, "where.maxPrice"},
			{"negative", map[string]any{"minPrice": "-1"}, "where.minPrice"},
			{"empty", map[string]any{"minPrice": ""}, "where.minPrice"},
			{"keyword too long", map[string]any{"keyword": strings.Repeat("茶", 101)}, "where.keyword"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := s.Query("", listProducts, map[string]any{"first": 10, "where": tc.where})
				if r.Code() != "BAD_USER_INPUT" || r.Field() != tc.field {
					t.Fatalf("got %s", r.Raw)
				}
			})
		}
	})
}

func TestStorefrontAvailabilityAndCounts(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		f := newStorefront(t, s)
		type variant struct {
			Sku       string
			Available bool
			Price     struct{ Amount string }
		}
		query := `query($where: ProductFilter) { products(first: 20, where: $where) { edges { node {
		  id available featuredImage { url } priceRange { min { amount } }
		  merchant { productCount } variants { sku available price { amount } } } } } }`
		check := func(t *testing.T, token string, where map[string]any, want map[string]bool, counts map[string]int) {
			t.Helper()
			var out struct {
				Products struct {
					Edges []struct {
						Node struct {
							ID            string
							Available     bool
							FeaturedImage *struct{ URL string }
							Merchant      struct{ ProductCount int }
							Variants      []variant
						}
					}
				}
			}
			s.MustQuery(token, query, map[string]any{"where": where}).Decode(t, &out)
			if len(out.Products.Edges) == 0 {
				t.Fatal("no products")
			}
			for _, e := range out.Products.Edges {
				k := f.key[e.Node.ID]
				if e.Node.FeaturedImage == nil || !strings.HasSuffix(e.Node.FeaturedImage.URL, k+".jpg") {
					t.Fatalf("%s featured image: %+v", k, e.Node.FeaturedImage)
				}
				if n := counts[f.item[k].merchant]; e.Node.Merchant.ProductCount != n {
					t.Fatalf("%s merchant productCount %d, want %d", k, e.Node.Merchant.ProductCount, n)
				}
				for _, v := range e.Node.Variants {
					if v.Available != want[v.Sku] {
						t.Fatalf("%s available %v, want %v", v.Sku, v.Available, want[v.Sku])
					}
				}
			}
		}
		counts := map[string]int{"tea": 4, "gadgets": 4, "pending": 1}
		// Out of stock, or on a product not on sale, is not available.
		check(t, "", nil, map[string]bool{
			"LONGJING-1": true, "LONGJING-2": true, "TIEGUANYIN-1": false, "TEAPOT-1": true,
			"GIFTCARD-1": true, "GIFTCARD-2": true, "EARBUDS-1": true, "EARBUDS-2": false,
			"SPEAKER-1": true, "HEADPHONES-1": true, "REPAIR-1": true,
		}, counts)
		check(t, f.tea.Owner.AccessToken, map[string]any{"status": "DRAFT"}, map[string]bool{"DRAFT-1": false}, counts)
		check(t, f.tea.Owner.AccessToken, map[string]any{"status": "DELISTED"}, map[string]bool{"DELISTED-1": false}, counts)
		check(t, f.pending.Owner.AccessToken, map[string]any{"status": "ACTIVE", "merchantID": f.pending.ID},
			map[string]bool{"PENDING-LONGJING-1": true}, counts)

		// Variants read without their product page (a product by id) use the loader.
		r := s.MustQuery("", `query($id: ID!) { product(id: $id) { variants { sku available } } }`, map[string]any{"id": f.id["earbuds"]})
		if !r.Contains(`{"sku":"EARBUDS-1","available":true}`) || !r.Contains(`{"sku":"EARBUDS-2","available":false}`) {
			t.Fatalf("product variants: %s", r.Raw)
		}
	})
}
