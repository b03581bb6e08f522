package app_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/apitest"
)

// qualityItem is one product of the search quality catalogue.
type qualityItem struct {
	key, category, title, description string
	price                             int64 // fen
	stock, sales                      int
	status                            product.Status
	hiddenMerchant                    bool
}

var qualityCatalogue = []qualityItem{
	{"longjing", "tea", "西湖龙井 2024 明前 West Lake Longjing", "杭州西湖产区明前绿茶，豆香清新。Green tea.", 8800, 10, 120, "", false},
	{"tieguanyin", "tea", "安溪铁观音 Anxi Tieguanyin", "乌龙茶，兰花香，七泡有余香。Oolong tea.", 5800, 5, 300, "", false},
	{"dahongpao", "tea", "武夷山大红袍 Wuyi Dahongpao rock tea", "岩骨花香的岩茶。", 16800, 2, 80, "", false},
	{"puer", "tea", "云南普洱熟茶饼 Yunnan Pu'er cake", "357克七子饼，陈香醇厚。", 19800, 7, 60, "", false},
	{"biluochun", "tea", "洞庭碧螺春 Biluochun", "苏州洞庭山绿茶，花果香。Green tea.", 6800, 4, 90, "", false},
	{"teapot", "teaware", "宜兴紫砂壶 Yixing clay teapot", "适合冲泡乌龙茶。", 12800, 3, 15, "", false},
	{"teacups", "teaware", "青瓷茶杯六只装 Celadon tea cups", "龙泉青瓷，六只一套。", 9900, 8, 40, "", false},
	{"earbuds", "audio", "降噪蓝牙耳机 Noise-cancelling Bluetooth earbuds", "主动降噪，续航30小时。", 39900, 20, 500, "", false},
	{"headphones", "audio", "头戴式蓝牙耳机 Bluetooth over-ear headphones", "大耳罩，舒适佩戴。", 29900, 6, 200, "", false},
	{"speaker", "audio", "便携蓝牙音箱 Portable Bluetooth speaker", "防水设计，户外可用。", 19900, 9, 150, "", false},
	{"tshirt", "clothing", "纯棉短袖T恤 Cotton short-sleeve top", "100%新疆长绒棉。", 7900, 50, 800, "", false},
	{"hoodie", "clothing", "加绒连帽卫衣 Fleece hoodie", "秋冬保暖。", 15900, 12, 220, "", false},
	{"jeans", "clothing", "修身牛仔裤 Slim-fit jeans", "弹力丹宁面料。Denim.", 19900, 15, 180, "", false},
	{"sneakers", "clothing", "轻便跑步鞋 Lightweight running shoes", "透气网面，缓震鞋底。", 29900, 0, 260, "", false},
	{"backpack", "bags", "防水双肩背包 Waterproof backpack", "15.6寸电脑隔层。Laptop compartment.", 14900, 11, 130, "", false},
	{"thermos", "kitchen", "不锈钢保温杯 Stainless steel vacuum flask", "12小时保温。", 8900, 30, 400, "", false},
	{"kettle", "kitchen", "电热水壶 Electric kettle", "1.7升，快速烧水。", 9900, 14, 170, "", false},
	{"ricecooker", "kitchen", "智能电饭煲 Smart rice cooker", "预约定时，多种菜单。", 39900, 5, 110, "", false},
	{"keyboard", "computer", "机械键盘 Mechanical keyboard", "青轴，RGB背光。", 29900, 7, 140, "", false},
	{"mouse", "computer", "无线鼠标 Wireless mouse", "静音按键，长续航。", 6900, 25, 350, "", false},
	{"charger", "computer", "氮化镓快充充电器 GaN fast charger", "65W，三口输出。", 12900, 18, 240, "", false},
	{"powerbank", "computer", "大容量充电宝 20000mAh", "双向快充，可上飞机。", 14900, 16, 280, "", false},
	{"honey", "food", "百花蜂蜜 Wildflower honey", "天然成熟蜜。", 4900, 40, 190, "", false},
	{"walnuts", "food", "新疆薄皮核桃 Xinjiang walnuts", "皮薄肉厚，易剥。", 5900, 22, 210, "", false},
	{"mooncake", "food", "广式月饼礼盒 Cantonese mooncake gift box", "莲蓉蛋黄，中秋送礼。", 19800, 9, 320, "", false},
	{"notebook", "stationery", "牛皮纸笔记本 Kraft paper notebook", "A5，120页。", 1900, 60, 90, "", false},
	{"umbrella", "stationery", "折叠晴雨伞 Folding umbrella", "防晒遮阳，晴雨两用。", 5900, 33, 160, "", false},
	{"sunscreen", "beauty", "清爽防晒霜 SPF50 Sunscreen lotion", "轻薄不油腻。", 8900, 19, 230, "", false},
	// Hidden: a draft, a delisted product, and an ACTIVE product of a merchant under review.
	// Their words (秘制, prototype) must never surface in results, counts or suggestions.
	{"draft", "tea", "秘制龙井限量版 Longjing prototype", "未发布。", 99900, 1, 9999, product.StatusDRAFT, false},
	{"delisted", "audio", "蓝牙耳机旧款 Bluetooth earbuds prototype", "已下架。", 100, 1, 9999, product.StatusDELISTED, false},
	{"pending", "tea", "龙井秘制新茶 Longjing prototype tea", "待审核商家。", 100, 1, 9999, "", true},
}

// qualitySynonyms are the synonym groups an admin creates for the test.
var qualitySynonyms = [][]string{
	{"T恤", "tshirt", "t-shirt", "tee"},
	{"保温杯", "thermos", "vacuum flask"},
	{"充电宝", "power bank", "powerbank"},
}

// qualityQueries are the queries with the product expected first.
var qualityQueries = []struct{ query, want, why string }{
	{"龙井", "longjing", "word"},
	{"龙井茶", "longjing", "segmentation: 龙井茶 is one word; its bigram 龙井 finds 西湖龙井"},
	{"西湖龙井", "longjing", "segmentation"},
	{"Longjing tea", "longjing", "English"},
	{"xihu longjing", "longjing", "pinyin of the title's words"},
	{"铁观音", "tieguanyin", "three-character word"},
	{"tieguanyin", "tieguanyin", "English title"},
	{"乌龙茶", "tieguanyin", "description, more sales than the teapot"},
	{"大红袍", "dahongpao", "word"},
	{"普洱", "puer", "word"},
	{"碧螺春", "biluochun", "word"},
	{"紫砂壶", "teapot", "word"},
	{"teapots", "teapot", "plural"},
	{"降噪耳机", "earbuds", "two words"},
	{"蓝牙降噪耳机", "earbuds", "words in another order than the title"},
	{"bluetooth speaker", "speaker", "English words"},
	{"blutooth speaker", "speaker", "typo (one deletion)"},
	{"headphnes", "headphones", "typo"},
	{"wireles mouse", "mouse", "typo"},
	{"mechanical keybord", "keyboard", "typo"},
	{"umbrela", "umbrella", "typo"},
	{"sunscren", "sunscreen", "typo"},
	{"T恤", "tshirt", "word"},
	{"tshirt", "tshirt", "synonym of T恤"},
	{"t-shirt", "tshirt", "synonym of T恤"},
	{"thermos", "thermos", "synonym of 保温杯"},
	{"保温杯", "thermos", "word"},
	{"power bank", "powerbank", "synonym of 充电宝"},
	{"充电宝", "powerbank", "word"},
	{"卫衣", "hoodie", "word"},
	{"牛仔裤", "jeans", "three-character word"},
	{"running shoes", "sneakers", "plural folded"},
	{"跑步鞋", "sneakers", "word"},
	{"电饭煲", "ricecooker", "word"},
	{"rice cooker", "ricecooker", "English"},
	{"蜂蜜", "honey", "word"},
	{"核桃", "walnuts", "word"},
	{"mooncakes", "mooncake", "plural"},
	{"月饼礼盒", "mooncake", "two words"},
	{"防晒", "sunscreen", "word in title ahead of description"},
	{"茶杯", "teacups", "word"},
	{"充电器", "charger", "word"},
	{"双肩包", "backpack", "segmentation: 双肩包 finds 双肩背包"},
}

// newQualityCatalogue creates the catalogue and the synonym groups (as an admin, through
// GraphQL) and returns the product keys by id.
func newQualityCatalogue(t *testing.T, s *apitest.Server) (keyOf map[string]string, admin apitest.Session) {
	t.Helper()
	shop := s.NewMerchant(t, "quality-shop", merchant.StatusACTIVE)
	review := s.NewMerchant(t, "quality-review", merchant.StatusPENDING_REVIEW)
	client, ctx := s.Client()
	cats := map[string]int{}
	keyOf = map[string]string{}
	for i, it := range qualityCatalogue {
		if _, ok := cats[it.category]; !ok {
			cats[it.category] = client.Category.Create().SetName("类目" + it.category).SetSlug("q-" + it.category).SetPosition(i).SaveX(ctx).ID
		}
		mid := shop.IntID
		if it.hiddenMerchant {
			mid = review.IntID
		}
		status := it.status
		if status == "" {
			status = product.StatusACTIVE
		}
		p := client.Product.Create().SetMerchantID(mid).SetCategoryID(cats[it.category]).
			SetTitle(it.title).SetDescription(it.description).SetStatus(status).
			SetSalesCount(it.sales).SetMinPrice(it.price).SetMaxPrice(it.price).
			SetTotalStock(it.stock).SetVariantCount(1).SaveX(ctx)
		client.ProductVariant.Create().SetProductID(p.ID).SetMerchantID(mid).
			SetSku(fmt.Sprintf("Q-%d", i)).SetPrice(it.price).SetStock(it.stock).SaveX(ctx)
		client.Product.UpdateOneID(p.ID).SetMinPrice(it.price).SetMaxPrice(it.price).SetTotalStock(it.stock).ExecX(ctx)
		keyOf[strconv.Itoa(p.ID)] = it.key
	}
	admin = s.NewAdmin(t, "search-admin@example.com")
	for _, g := range qualitySynonyms {
		s.MustQuery(admin.AccessToken, `mutation($t: [String!]!) { createSearchSynonym(terms: $t) { id terms } }`, map[string]any{"t": g})
	}
	return keyOf, admin
}

const productSearchQuery = `query($q: String!, $f: ProductFilter, $s: ProductSearchSort, $n: Int) {
  productSearch(query: $q, filter: $f, sort: $s, first: $n) {
    totalCount
    edges { node { id title } }
    facets {
      categories { category { slug } count }
      merchants { merchant { slug } count }
      priceBands { min max count }
      inStock
    }
  }
}`

type searchResult struct {
	ProductSearch struct {
		TotalCount int
		Edges      []struct{ Node struct{ ID, Title string } }
		Facets     struct {
			Categories []struct {
				Category struct{ Slug string }
				Count    int
			}
			Merchants []struct {
				Merchant struct{ Slug string }
				Count    int
			}
			PriceBands []struct {
				Min   string
				Max   *string
				Count int
			}
			InStock int
		}
	}
}

func runSearch(t *testing.T, s *apitest.Server, token string, vars map[string]any) searchResult {
	t.Helper()
	var r searchResult
	s.MustQuery(token, productSearchQuery, vars).Decode(t, &r)
	return r
}

// TestSearchQuality runs the quality queries over the fixed catalogue and prints
// precision at 1 and the mean reciprocal rank of the expected product (docs/SEARCH.md).
func TestSearchQuality(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		keyOf, _ := newQualityCatalogue(t, s)
		hits, rr := 0, 0.0
		var misses []string
		for _, q := range qualityQueries {
			r := runSearch(t, s, "", map[string]any{"q": q.query, "n": 10})
			var keys []string
			for _, e := range r.ProductSearch.Edges {
				keys = append(keys, keyOf[e.Node.ID])
			}
			for _, k := range keys {
				if k == "draft" || k == "delisted" || k == "pending" {
					t.Errorf("%q found hidden product %s", q.query, k)
				}
			}
			rank := slices.Index(keys, q.want) + 1
			if rank == 1 {
				hits++
			} else {
				misses = append(misses, fmt.Sprintf("%q (%s): want %s, got %v", q.query, q.why, q.want, keys))
			}
			if rank > 0 {
				rr += 1 / float64(rank)
			}
		}
		n := float64(len(qualityQueries))
		p1, mrr := float64(hits)/n, rr/n
		t.Logf("search quality: %d queries, precision@1 %.3f, MRR %.3f", len(qualityQueries), p1, mrr)
		fmt.Printf("search quality (%s): %d queries, precision@1 %.3f, MRR %.3f\n", t.Name(), len(qualityQueries), p1, mrr)
		for _, m := range misses {
			t.Log("miss:", m)
		}
		if p1 < 0.9 || mrr < 0.93 {
			t.Errorf("quality fell: precision@1 %.3f, MRR %.3f\n%s", p1, mrr, strings.Join(misses, "\n"))
		}
	})
}

// TestProductSearch checks facets, sorts, suggestions and the synonym admin API.
func TestProductSearch(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		keyOf, admin := newQualityCatalogue(t, s)
		keys := func(r searchResult) []string {
			var out []string
			for _, e := range r.ProductSearch.Edges {
				out = append(out, keyOf[e.Node.ID])
			}
			return out
		}

		t.Run("facets count every visible match and nothing hidden", func(t *testing.T) {
			// 蓝牙 matches three products on sale and a delisted one; Longjing matches two
			// hidden products besides the one on sale.
			r := runSearch(t, s, "", map[string]any{"q": "蓝牙", "n": 1})
			f := r.ProductSearch.Facets
			if r.ProductSearch.TotalCount != 3 || len(r.ProductSearch.Edges) != 1 {
				t.Fatalf("totalCount %d, %d edges", r.ProductSearch.TotalCount, len(r.ProductSearch.Edges))
			}
			if len(f.Categories) != 1 || f.Categories[0].Category.Slug != "q-audio" || f.Categories[0].Count != 3 {
				t.Fatalf("categories %+v", f.Categories)
			}
			if len(f.Merchants) != 1 || f.Merchants[0].Merchant.Slug != "quality-shop" || f.Merchants[0].Count != 3 {
				t.Fatalf("merchants %+v", f.Merchants)
			}
			total := 0
			for _, b := range f.PriceBands {
				total += b.Count
			}
			// 199.00 and 299.00 fall in 100–199.99 and 200–499.99; 399.00 too.
			if total != 3 || len(f.PriceBands) != 2 || f.PriceBands[0].Min != "100.00" || *f.PriceBands[0].Max != "199.99" {
				t.Fatalf("price bands %+v", f.PriceBands)
			}
			if f.InStock != 3 {
				t.Fatalf("inStock %d", f.InStock)
			}
			r = runSearch(t, s, "", map[string]any{"q": "longjing", "n": 10})
			if got := keys(r); !slices.Equal(got, []string{"longjing"}) || r.ProductSearch.TotalCount != 1 ||
				len(r.ProductSearch.Facets.Merchants) != 1 || r.ProductSearch.Facets.PriceBands[0].Count != 1 {
				t.Fatalf("longjing: %v %+v", got, r.ProductSearch.Facets)
			}
			// A word only hidden products have: nothing, and no facets.
			r = runSearch(t, s, "", map[string]any{"q": "prototype", "n": 10})
			if r.ProductSearch.TotalCount != 0 || len(r.ProductSearch.Facets.Categories) != 0 ||
				len(r.ProductSearch.Facets.PriceBands) != 0 || r.ProductSearch.Facets.InStock != 0 {
				t.Fatalf("prototype: %+v", r.ProductSearch)
			}
			// The filter narrows the facets too.
			r = runSearch(t, s, "", map[string]any{"q": "蓝牙", "n": 10, "f": map[string]any{"maxPrice": "199.99"}})
			if got := keys(r); !slices.Equal(got, []string{"speaker"}) || r.ProductSearch.Facets.InStock != 1 {
				t.Fatalf("蓝牙 under 200: %v %+v", got, r.ProductSearch.Facets)
			}
		})

		t.Run("sorts", func(t *testing.T) {
			for _, tc := range []struct {
				sort string
				want []string
			}{
				{"RELEVANCE", []string{"speaker", "headphones", "earbuds"}},
				{"SALES", []string{"earbuds", "headphones", "speaker"}},
				{"PRICE_ASC", []string{"speaker", "headphones", "earbuds"}},
				{"PRICE_DESC", []string{"earbuds", "headphones", "speaker"}},
				{"NEWEST", []string{"speaker", "headphones", "earbuds"}},
			} {
				r := runSearch(t, s, "", map[string]any{"q": "bluetooth", "n": 10, "s": tc.sort})
				if got := keys(r); !slices.Equal(got, tc.want) {
					t.Errorf("sort %s: got %v, want %v", tc.sort, got, tc.want)
				}
			}
			r := s.Query("", productSearchQuery, map[string]any{"q": "bluetooth", "s": "CHEAPEST"})
			if r.Code() == "" {
				t.Fatalf("unknown sort accepted: %s", r.Raw)
			}
			r = s.Query("", productSearchQuery, map[string]any{"q": "  ", "n": 10})
			if r.Code() != "BAD_USER_INPUT" || r.Field() != "query" {
				t.Fatalf("empty query: %s", r.Raw)
			}
		})

		t.Run("products(where: {keyword}) uses the same analysis", func(t *testing.T) {
			var out struct {
				Products struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
			s.MustQuery("", `{ products(first: 5, where: {keyword: "tshirt"}) { edges { node { id } } } }`, nil).Decode(t, &out)
			if len(out.Products.Edges) != 1 || keyOf[out.Products.Edges[0].Node.ID] != "tshirt" {
				t.Fatalf("%+v", out)
			}
		})

		t.Run("suggestions", func(t *testing.T) {
			suggest := func(prefix string) []string {
				var out struct {
					SearchSuggestions []struct {
						Text, Kind string
						Product    *struct{ ID string }
					}
				}
				s.MustQuery("", `query($p: String!) { searchSuggestions(prefix: $p, first: 6) { text kind product { id } } }`,
					map[string]any{"p": prefix}).Decode(t, &out)
				var got []string
				for _, sg := range out.SearchSuggestions {
					got = append(got, sg.Kind+":"+sg.Text)
				}
				return got
			}
			if got := suggest("blue"); !slices.Contains(got, "QUERY:bluetooth") || !slices.Contains(got, "PRODUCT:降噪蓝牙耳机 Noise-cancelling Bluetooth earbuds") {
				t.Fatalf("blue: %v", got)
			}
			if got := suggest("蓝牙耳"); len(got) == 0 || got[0] != "QUERY:蓝牙耳机" {
				t.Fatalf("蓝牙耳: %v", got)
			}
			if got := suggest("龙"); !slices.Contains(got, "QUERY:龙井") {
				t.Fatalf("龙: %v", got)
			}
			// Hidden products suggest nothing.
			for _, p := range []string{"proto", "秘", "秘制"} {
				if got := suggest(p); len(got) != 0 {
					t.Fatalf("%s: %v", p, got)
				}
			}
		})

		t.Run("synonyms are admin-only and apply at once", func(t *testing.T) {
			owner := s.NewMerchant(t, "synonym-owner", merchant.StatusACTIVE).Owner
			for _, tok := range []string{"", owner.AccessToken} {
				r := s.Query(tok, `mutation { createSearchSynonym(terms: ["a1", "b1"]) { id } }`, nil)
				if c := r.Code(); c != "FORBIDDEN" && c != "UNAUTHENTICATED" {
					t.Fatalf("create by %q: %s", tok, r.Raw)
				}
				r = s.Query(tok, `{ searchSynonyms(first: 5) { totalCount } }`, nil)
				if c := r.Code(); c != "FORBIDDEN" && c != "UNAUTHENTICATED" {
					t.Fatalf("list by %q: %s", tok, r.Raw)
				}
			}
			r := s.Query(owner.AccessToken, `mutation { createSearchSynonym(terms: ["a1", "b1"]) { id } }`, nil)
			if r.Code() != "FORBIDDEN" {
				t.Fatalf("merchant owner: %s", r.Raw)
			}
			r = s.Query(admin.AccessToken, `mutation { createSearchSynonym(terms: ["T-Shirts", "衬衫"]) { id } }`, nil)
			if r.Code() != "CONFLICT" || !r.Contains("SYNONYM_TAKEN") {
				t.Fatalf("taken term: %s", r.Raw)
			}
			r = s.Query(admin.AccessToken, `mutation { createSearchSynonym(terms: ["只有一个"]) { id } }`, nil)
			if r.Code() != "BAD_USER_INPUT" || r.Field() != "terms" {
				t.Fatalf("one term: %s", r.Raw)
			}
			var list struct {
				SearchSynonyms struct {
					TotalCount int
					Edges      []struct {
						Node struct {
							ID    string
							Terms []string
						}
					}
				}
			}
			s.MustQuery(admin.AccessToken, `{ searchSynonyms(first: 10) { totalCount edges { node { id terms } } } }`, nil).Decode(t, &list)
			if list.SearchSynonyms.TotalCount != len(qualitySynonyms) {
				t.Fatalf("list: %+v", list)
			}
			var id string
			for _, e := range list.SearchSynonyms.Edges {
				if slices.Contains(e.Node.Terms, "tshirt") {
					id = e.Node.ID
				}
			}
			// Remove tshirt from the group: the next search no longer finds the T恤.
			s.MustQuery(admin.AccessToken, `mutation($id: ID!) { updateSearchSynonym(id: $id, terms: ["T恤", "tee shirt"]) { id } }`, map[string]any{"id": id})
			if got := keys(runSearch(t, s, "", map[string]any{"q": "tshirt", "n": 5})); len(got) != 0 {
				t.Fatalf("tshirt after update: %v", got)
			}
			if got := keys(runSearch(t, s, "", map[string]any{"q": "tee shirt", "n": 5})); !slices.Equal(got, []string{"tshirt"}) {
				t.Fatalf("tee shirt after update: %v", got)
			}
			s.MustQuery(admin.AccessToken, `mutation($id: ID!) { deleteSearchSynonym(id: $id) }`, map[string]any{"id": id})
			s.MustQuery(admin.AccessToken, `{ searchSynonyms(first: 10) { totalCount edges { node { id terms } } } }`, nil).Decode(t, &list)
			if list.SearchSynonyms.TotalCount != len(qualitySynonyms)-1 {
				t.Fatalf("after delete: %+v", list)
			}
			// No product on sale has both words ("prototype" is only in hidden ones): the
			// search is relaxed to one word fewer and finds the T恤, never a hidden product.
			if got := keys(runSearch(t, s, "", map[string]any{"q": "T恤 prototype", "n": 5})); !slices.Equal(got, []string{"tshirt"}) {
				t.Fatalf("after delete: %v", got)
			}
			r = s.Query(admin.AccessToken, `mutation($id: ID!) { deleteSearchSynonym(id: $id) }`, map[string]any{"id": id})
			if r.Code() != "NOT_FOUND" {
				t.Fatalf("delete twice: %s", r.Raw)
			}
		})
	})
}

var _ = json.Marshal
