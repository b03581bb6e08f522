package meili

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Document is what the index holds of one product visible on the storefront, in one
// locale. Hidden products (drafts, delisted, of a merchant not on sale) have no document.
type Document struct {
	ID          int    `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	// Attributes are the product's attributes in the locale (name → value).
	Attributes map[string]string `json:"attributes,omitempty"`
	// CategoryIDs are the product's category and every ancestor, so a filter on a
	// category matches its whole subtree; CategoryNames the same path's names, root first.
	CategoryIDs   []int    `json:"category_ids"`
	CategoryNames []string `json:"category_names,omitempty"`
	MerchantID    int      `json:"merchant_id"`
	MerchantName  string   `json:"merchant_name,omitempty"`
	// MinPrice and MaxPrice are the lowest and highest variant prices in minor units of
	// Currency.
	MinPrice int64   `json:"min_price"`
	MaxPrice int64   `json:"max_price"`
	Currency string  `json:"currency"`
	InStock  bool    `json:"in_stock"`
	Sales    int64   `json:"sales"`
	Rating   float64 `json:"rating"`
	// CreatedAt is in Unix seconds (Meilisearch sorts numbers, not dates).
	CreatedAt int64 `json:"created_at"`
	// Listed is true for every document (only visible products are indexed); searches
	// still require it, so a document written by mistake stays out of answers.
	Listed bool `json:"listed"`
	// PriceBand is the label of MinPrice's band (Config.PriceBands), set by the syncer.
	PriceBand string `json:"price_band"`
}

// Searchable, filterable and sortable attributes, in the order Meilisearch weighs them
// (the attribute ranking rule prefers a match in an earlier one).
var (
	searchableAttributes = []string{"title", "attributes", "category_names", "merchant_name", "description"}
	filterableAttributes = []string{"category_ids", "merchant_id", "min_price", "max_price", "in_stock", "listed", "price_band"}
	sortableAttributes   = []string{"min_price", "sales", "created_at", "rating"}
	// Meilisearch's default rules, then best sellers first among equals.
	rankingRules = []string{"words", "typo", "proximity", "attribute", "sort", "exactness", "sales:desc"}
)

// maxTotalHits bounds how deep a search may page (offset + limit).
const maxTotalHits = 1000

// MaxHits is how deep a search may page: offset + limit at most.
const MaxHits = maxTotalHits

// languages maps a locale to the language Meilisearch's tokenizer (charabia) should
// assume for every attribute, so that short Chinese text is not mistaken for Japanese
// and is segmented with the Chinese dictionary. Other locales are detected per text.
func language(locale string) string {
	switch strings.ToLower(strings.SplitN(locale, "-", 2)[0]) {
	case "zh":
		return "cmn"
	case "en":
		return "eng"
	case "ja":
		return "jpn"
	case "ko":
		return "kor"
	}
	return ""
}

// settings is the settings object pushed to every index.
func (c *Client) settings(locale string, synonyms map[string][]string) map[string]any {
	if synonyms == nil {
		synonyms = map[string][]string{}
	}
	s := map[string]any{
		"displayedAttributes":  []string{"id", "title"},
		"searchableAttributes": searchableAttributes,
		"filterableAttributes": filterableAttributes,
		"sortableAttributes":   sortableAttributes,
		"rankingRules":         rankingRules,
		"typoTolerance": map[string]any{
			"enabled":             true,
			"minWordSizeForTypos": map[string]int{"oneTypo": 5, "twoTypos": 9},
			"disableOnAttributes": []string{},
		},
		"synonyms":   synonyms,
		"faceting":   map[string]any{"maxValuesPerFacet": 100, "sortFacetValuesBy": map[string]string{"*": "count"}},
		"pagination": map[string]int{"maxTotalHits": maxTotalHits},
	}
	if lang := language(locale); lang != "" {
		s["localizedAttributes"] = []map[string][]string{{"attributePatterns": {"*"}, "locales": {lang}}}
	}
	return s
}

// MutualSynonyms turns groups of words that mean the same ({"T恤", "tshirt", "t-shirt"})
// into Meilisearch's one-way synonym map, each word pointing at the others of its group.
func MutualSynonyms(groups [][]string) map[string][]string {
	out := map[string][]string{}
	for _, g := range groups {
		for _, w := range g {
			w = strings.ToLower(strings.TrimSpace(w))
			if w == "" {
				continue
			}
			for _, o := range g {
				o = strings.ToLower(strings.TrimSpace(o))
				if o != "" && o != w && !contains(out[w], o) {
					out[w] = append(out[w], o)
				}
			}
		}
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// EnsureIndexes creates each locale's index if it is missing and pushes its settings,
// then waits until the server has applied them. It is idempotent: run it at every start
// and whenever admins change synonyms.
func (c *Client) EnsureIndexes(ctx context.Context, synonyms map[string][]string) error {
	for _, locale := range c.cfg.Locales {
		if err := c.ensureIndex(ctx, c.cfg.Index(locale), locale, synonyms); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) ensureIndex(ctx context.Context, uid, locale string, synonyms map[string][]string) error {
	var created Task
	if err := c.do(ctx, http.MethodPost, "/indexes", nil, map[string]string{"uid": uid, "primaryKey": "id"}, &created); err != nil {
		return err
	}
	var set Task
	if err := c.do(ctx, http.MethodPatch, "/indexes/"+uid+"/settings", nil, c.settings(locale, synonyms), &set); err != nil {
		return err
	}
	return c.waitAllowing(ctx, []string{"index_already_exists"}, created, set)
}

// priceBand is the label of the band that price falls in: "0-5000", "5000-10000", …,
// and "500000+" past the last bound.
func (c *Client) priceBand(price int64) string {
	lo := int64(0)
	for _, hi := range c.cfg.PriceBands {
		if price < hi {
			return strconv.FormatInt(lo, 10) + "-" + strconv.FormatInt(hi, 10)
		}
		lo = hi
	}
	return strconv.FormatInt(lo, 10) + "+"
}

// bandRange is the [lo, hi) range of a band label; ok is false for a label that is not
// one of the configured bands. hi is -1 for the open last band.
func (c *Client) bandRange(label string) (lo, hi int64, ok bool) {
	prev := int64(0)
	for _, b := range c.cfg.PriceBands {
		if label == c.priceBand(prev) {
			return prev, b, true
		}
		prev = b
	}
	if label == c.priceBand(prev) {
		return prev, -1, true
	}
	return 0, 0, false
}

// putDocuments adds or replaces docs in an index (POST: whole documents replace the old).
func (c *Client) putDocuments(ctx context.Context, uid string, docs []Document) (Task, error) {
	for i := range docs {
		docs[i].Listed = true
		docs[i].PriceBand = c.priceBand(docs[i].MinPrice)
	}
	var t Task
	err := c.do(ctx, http.MethodPost, "/indexes/"+uid+"/documents", map[string][]string{"primaryKey": {"id"}}, docs, &t)
	return t, err
}

// deleteDocuments removes ids from an index; ids it does not hold are no error.
func (c *Client) deleteDocuments(ctx context.Context, uid string, ids []int) (Task, error) {
	var t Task
	err := c.do(ctx, http.MethodPost, "/indexes/"+uid+"/documents/delete-batch", nil, ids, &t)
	return t, err
}
