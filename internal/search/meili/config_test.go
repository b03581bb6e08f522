package meili

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	off, err := ConfigFromEnv(env(map[string]string{"SEARCH_KEY": "k", "SEARCH_TIMEOUT": "nonsense"}))
	if err != nil || off.Enabled() {
		t.Fatalf("without SEARCH_URL: %+v, %v (want disabled, other variables ignored)", off, err)
	}
	c, err := ConfigFromEnv(env(map[string]string{"SEARCH_URL": "meilisearch://search:7700", "SEARCH_KEY": " k "}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{URL: "meilisearch://search:7700", Key: "k", IndexPrefix: "products", Locales: []string{"zh-CN", "en"},
		Timeout: 2 * time.Second, Sync: true, SyncBatch: 500, SyncInterval: time.Second,
		PriceBands: []int64{5000, 10000, 20000, 50000, 100000}, TaskPoll: 20 * time.Millisecond, TaskTimeout: 5 * time.Minute}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults\n got %+v\nwant %+v", c, want)
	}
	if c.Index("zh-CN") != "products_zh-CN" {
		t.Fatal(c.Index("zh-CN"))
	}
	c, err = ConfigFromEnv(env(map[string]string{"SEARCH_URL": "https://search.example.com/meili", "SEARCH_LOCALES": "en, ja",
		"SEARCH_SYNC": "false", "SEARCH_SYNC_BATCH": "100", "SEARCH_PRICE_BANDS": "100,200", "SEARCH_INDEX_PREFIX": "shop1"}))
	if err != nil || c.Sync || c.SyncBatch != 100 || !reflect.DeepEqual(c.Locales, []string{"en", "ja"}) ||
		!reflect.DeepEqual(c.PriceBands, []int64{100, 200}) || c.Index("ja") != "shop1_ja" {
		t.Fatalf("%+v, %v", c, err)
	}
	_, err = ConfigFromEnv(env(map[string]string{"SEARCH_URL": "ftp://x", "SEARCH_LOCALES": "en,en,zh_CN",
		"SEARCH_TIMEOUT": "2", "SEARCH_SYNC": "maybe", "SEARCH_SYNC_BATCH": "0", "SEARCH_PRICE_BANDS": "200,100",
		"SEARCH_INDEX_PREFIX": "a/b"}))
	for _, name := range []string{"SEARCH_URL", "SEARCH_LOCALES: \"en\" is listed twice", "SEARCH_LOCALES: \"zh_CN\"",
		"SEARCH_TIMEOUT", "SEARCH_SYNC:", "SEARCH_SYNC_BATCH", "SEARCH_PRICE_BANDS", "SEARCH_INDEX_PREFIX"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
	for _, bad := range []string{"http://", "http://u:p@host:7700", "http://host:7700?x=1", "host:7700"} {
		if _, err := ConfigFromEnv(env(map[string]string{"SEARCH_URL": bad})); err == nil {
			t.Errorf("SEARCH_URL %q accepted", bad)
		}
	}
}
