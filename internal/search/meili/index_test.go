package meili

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

const alreadyExists = `{"message":"Index ` + "`products_zh-CN`" + ` already exists.","code":"index_already_exists","type":"invalid_request","link":"https://docs.meilisearch.com/errors#index_already_exists"}`

// The settings push creates each locale's index, accepts one that already exists, sends
// every setting with the caller's synonyms and Chinese segmentation for zh-CN, and polls
// until the settings task succeeded.
func TestEnsureIndexesPushesSettingsIdempotently(t *testing.T) {
	syn := MutualSynonyms([][]string{{"T恤", "tshirt", "t-shirt"}})
	settings := func(lang string) string {
		return `{
		"displayedAttributes": ["id", "title"],
		"searchableAttributes": ["title", "attributes", "category_names", "merchant_name", "description"],
		"filterableAttributes": ["category_ids", "merchant_id", "min_price", "max_price", "in_stock", "listed", "price_band"],
		"sortableAttributes": ["min_price", "sales", "created_at", "rating"],
		"rankingRules": ["words", "typo", "proximity", "attribute", "sort", "exactness", "sales:desc"],
		"typoTolerance": {"enabled": true, "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9}, "disableOnAttributes": []},
		"synonyms": {"t-shirt": ["tshirt", "t恤"], "t恤": ["t-shirt", "tshirt"], "tshirt": ["t-shirt", "t恤"]},
		"faceting": {"maxValuesPerFacet": 100, "sortFacetValuesBy": {"*": "count"}},
		"pagination": {"maxTotalHits": 1000},
		"localizedAttributes": [{"attributePatterns": ["*"], "locales": ["` + lang + `"]}]}`
	}
	r := newReplay(t,
		write("POST", "/indexes", `{"uid":"products_zh-CN","primaryKey":"id"}`, 1, "products_zh-CN", "indexCreation"),
		write("PATCH", "/indexes/products_zh-CN/settings", settings("cmn"), 2, "products_zh-CN", "settingsUpdate"),
		tasks("1,2", 2,
			task(1, "products_zh-CN", "indexCreation", "failed", alreadyExists),
			task(2, "products_zh-CN", "settingsUpdate", "processing", "")),
		tasks("1,2", 2,
			task(1, "products_zh-CN", "indexCreation", "failed", alreadyExists),
			task(2, "products_zh-CN", "settingsUpdate", "succeeded", "")),
		write("POST", "/indexes", `{"uid":"products_en","primaryKey":"id"}`, 3, "products_en", "indexCreation"),
		write("PATCH", "/indexes/products_en/settings", settings("eng"), 4, "products_en", "settingsUpdate"),
		tasks("3,4", 2,
			task(3, "products_en", "indexCreation", "succeeded", ""),
			task(4, "products_en", "settingsUpdate", "succeeded", "")),
	)
	if err := r.client("zh-CN", "en").EnsureIndexes(context.Background(), syn); err != nil {
		t.Fatal(err)
	}
	r.done()
}

// A settings task that fails (here: a synonym map Meilisearch refuses) is an error that
// names the task and carries Meilisearch's code.
func TestEnsureIndexesReportsFailedSettingsTask(t *testing.T) {
	bad := apiError("invalid_settings_synonyms", "invalid_request", "Invalid value type at `.synonyms`")
	r := newReplay(t,
		write("POST", "/indexes", "", 1, "products_en", "indexCreation"),
		write("PATCH", "/indexes/products_en/settings", "", 2, "products_en", "settingsUpdate"),
		tasks("1,2", 2,
			task(1, "products_en", "indexCreation", "succeeded", ""),
			task(2, "products_en", "settingsUpdate", "failed", bad)),
	)
	err := r.client().EnsureIndexes(context.Background(), nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "invalid_settings_synonyms" {
		t.Fatalf("err = %v, want the task's invalid_settings_synonyms", err)
	}
	r.done()
}

func TestMutualSynonyms(t *testing.T) {
	got := MutualSynonyms([][]string{{"T恤", "tshirt", " "}, {"手机", "mobile phone", "手机"}})
	want := map[string][]string{
		"t恤": {"tshirt"}, "tshirt": {"t恤"},
		"手机": {"mobile phone"}, "mobile phone": {"手机"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestPriceBands(t *testing.T) {
	c := &Client{cfg: Config{PriceBands: []int64{5000, 10000}}}
	for price, want := range map[int64]string{0: "0-5000", 4999: "0-5000", 5000: "5000-10000", 10000: "10000+", 1 << 40: "10000+"} {
		if got := c.priceBand(price); got != want {
			t.Errorf("priceBand(%d) = %q, want %q", price, got, want)
		}
	}
	for label, want := range map[string][2]int64{"0-5000": {0, 5000}, "5000-10000": {5000, 10000}, "10000+": {10000, -1}} {
		lo, hi, ok := c.bandRange(label)
		if !ok || lo != want[0] || hi != want[1] {
			t.Errorf("bandRange(%q) = %d, %d, %v", label, lo, hi, ok)
		}
	}
	for _, label := range []string{"", "0-10000", "5000+", "0-5000 OR listed = false"} {
		if _, _, ok := c.bandRange(label); ok {
			t.Errorf("bandRange(%q) accepted", label)
		}
	}
}

// The documents pushed carry listed and the price band whatever the loader set.
func TestDocumentShape(t *testing.T) {
	c := &Client{cfg: Config{PriceBands: []int64{5000}}}
	d := Document{ID: 1, Title: "西湖龙井", Attributes: map[string]string{"产地": "杭州"}, CategoryIDs: []int{1, 3},
		CategoryNames: []string{"茶", "绿茶"}, MerchantID: 2, MerchantName: "茶庄", MinPrice: 6800, MaxPrice: 12800,
		Currency: "CNY", InStock: true, Sales: 10, Rating: 4.5, CreatedAt: 1765000000}
	docs := []Document{d}
	for i := range docs {
		docs[i].Listed, docs[i].PriceBand = true, c.priceBand(docs[i].MinPrice)
	}
	got := string(must(json.Marshal(docs[0])))
	want := `{"id":1,"title":"西湖龙井","attributes":{"产地":"杭州"},"category_ids":[1,3],"category_names":["茶","绿茶"],` +
		`"merchant_id":2,"merchant_name":"茶庄","min_price":6800,"max_price":12800,"currency":"CNY","in_stock":true,` +
		`"sales":10,"rating":4.5,"created_at":1765000000,"listed":true,"price_band":"5000+"}`
	if got != want {
		t.Fatalf("document\n got %s\nwant %s", got, want)
	}
}
