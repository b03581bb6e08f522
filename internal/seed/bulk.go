package seed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/i18n"
	"github.com/xiadan/xiadan/internal/search"
	"github.com/xiadan/xiadan/internal/viewer"
)

// The bulk path of the scale products.
//
// Through Ent's builders (insert) a batch of products runs the product hooks once per
// product — a locking read of the merchant for on_sale, the keyword index of the product's
// own text — and then the seed rewrote that index with the translations (ReindexProducts):
// the index, about 90 rows a product, was written twice and deleted once, and the merchant
// read a thousand times a batch. On MySQL that held a 100k scale seed to about 450
// products/s.
//
// insertBulk writes exactly the rows the builders and hooks would, with multi-row INSERTs
// straight on the transaction's driver: the products with their aggregates and on_sale
// (the merchants read once a batch, with the share lock the hook takes), the variants, the
// English translations, and the index built once from the drafts' text and translations
// through the same functions the hooks use (hooks.ProductTexts, hooks.TranslationText,
// search.IndexTexts; TestBulkScaleWritesWhatTheHooksWould compares the two paths row by
// row). The index of one text is the same wherever it appears, and scale titles, blurbs
// and attributes repeat, so it is computed once per distinct text (tokenCache).

// productColumns are the columns of a raw product insert, in the order of its values. The
// rating columns keep their defaults (0), as a created product's do.
const productColumns = "(id, created_at, updated_at, title, slug, description, kind, status, images, attributes, " +
	"sales_count, published_at, category_id, merchant_id, min_price, max_price, currency, total_stock, " +
	"variant_count, on_sale)"

const productPlaceholders = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// translationColumns are the columns of a raw translation insert.
const (
	translationColumns      = "(entity_type, entity_id, locale, field, value, updated_at)"
	translationPlaceholders = "(?, ?, ?, ?, ?, ?)"
	// translationsPerRawInsert keeps 6 placeholders a row under SQLite's 32,766.
	translationsPerRawInsert = 5000
)

// bulkBatch is a batch of scale products ready to be written: their slugs, ids and index
// entries chosen, in the order the builders would have given them.
type bulkBatch struct {
	drafts   []productDraft
	slugs    []string
	ids      []int
	weights  []map[string]int
	variants int
}

// prepare draws the slugs of drafts, gives them the ids from next on and builds their
// index entries. It runs on the generating goroutine: the slug set and the token cache are
// not shared.
func (s *seeder) prepare(drafts []productDraft, next int) (*bulkBatch, error) {
	b := &bulkBatch{drafts: drafts, slugs: make([]string, len(drafts)), ids: make([]int, len(drafts)),
		weights: make([]map[string]int, len(drafts))}
	for i := range drafts {
		d := &drafts[i]
		b.slugs[i] = s.slugFor(d.slugBase)
		b.ids[i] = next + i
		if err := validateProduct(d, b.slugs[i], aggregateOf(d.variants)); err != nil {
			return nil, fmt.Errorf("product %q: %w", d.title, err)
		}
		for _, v := range d.variants {
			if err := validateVariant(v); err != nil {
				return nil, fmt.Errorf("variant %s: %w", v.sku, err)
			}
		}
		b.weights[i] = s.tokens.index(d)
		b.variants += len(d.variants)
	}
	return b, nil
}

// insertBulk writes batch b in the transaction of c.
func insertBulk(ctx context.Context, c *ent.Client, b *bulkBatch) error {
	drafts := b.drafts
	if err := checkCurrency(ctx, c, drafts); err != nil {
		return err
	}
	merchantIDs := make([]int, 0, 8)
	for i := range drafts {
		merchantIDs = append(merchantIDs, drafts[i].merchantID)
	}
	listable, err := hooks.MerchantsListable(ctx, c, merchantIDs)
	if err != nil {
		return err
	}

	// The products, with the ids the next auto-increment values would be.
	var sb strings.Builder
	sb.WriteString("INSERT INTO products " + productColumns + " VALUES ")
	args := make([]any, 0, 20*len(drafts))
	for i := range drafts {
		d := &drafts[i]
		a := aggregateOf(d.variants)
		images, err := json.Marshal(d.images)
		if err != nil {
			return err
		}
		attrs, err := json.Marshal(d.attributes)
		if err != nil {
			return err
		}
		updated := d.createdAt
		var published any
		if d.publishedAt != nil {
			updated, published = *d.publishedAt, *d.publishedAt
		}
		onSale := d.status == product.StatusACTIVE && listable[d.merchantID]
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(productPlaceholders)
		args = append(args, b.ids[i], d.createdAt, updated, d.title, b.slugs[i], d.description, string(d.kind), string(d.status),
			images, attrs, d.salesCount, published, d.categoryID, d.merchantID, a.minPrice, a.maxPrice,
			variantCurrency, a.totalStock, len(d.variants), onSale)
	}
	if _, err := c.ExecContext(ctx, sb.String(), args...); err != nil {
		return err
	}
	if _, err := insertVariantsRaw(ctx, c, drafts, b.ids); err != nil {
		return err
	}
	if err := insertTranslationsRaw(ctx, c, drafts, b.ids); err != nil {
		return err
	}
	return hooks.IndexNewProducts(ctx, c, b.ids, b.weights)
}

// nextProductID is the id the next product gets: one past the highest (the demo's products
// come first, so there is one).
func nextProductID(ctx context.Context, c *ent.Client) (int, error) {
	var v []struct{ Max int }
	if err := c.Product.Query().Aggregate(ent.Max(product.FieldID)).Scan(viewer.SystemContext(ctx), &v); err != nil {
		return 0, err
	}
	if len(v) == 0 || v[0].Max == 0 {
		return 0, errors.New("seed: no product before the scale products")
	}
	return v[0].Max + 1, nil
}

// dialectOf is the SQL dialect of c's driver ("mysql", "sqlite3").
func dialectOf(ctx context.Context, c *ent.Client) (string, error) {
	var name string
	_, err := c.Merchant.Query().Where(func(s *sql.Selector) { name = s.Dialect() }).Exist(viewer.SystemContext(ctx))
	return name, err
}

// rawSQL reports whether c's driver runs raw statements (some test wrappers do not).
func rawSQL(ctx context.Context, c *ent.Client) (bool, error) {
	_, err := c.ExecContext(ctx, "SELECT 1")
	if err != nil && strings.Contains(err.Error(), "ExecContext is not supported") {
		return false, nil
	}
	return err == nil, err
}

// validateProduct runs the validators the builders would on the fields the seed sets.
func validateProduct(d *productDraft, slug string, a draftAggregate) error {
	return errors.Join(product.TitleValidator(d.title), product.SlugValidator(slug),
		product.KindValidator(d.kind), product.StatusValidator(d.status),
		product.SalesCountValidator(d.salesCount), product.MinPriceValidator(a.minPrice),
		product.MaxPriceValidator(a.maxPrice), product.CurrencyValidator(variantCurrency),
		product.TotalStockValidator(a.totalStock), product.VariantCountValidator(len(d.variants)))
}

// insertTranslationsRaw writes the English of drafts (products ids) with multi-row INSERTs.
func insertTranslationsRaw(ctx context.Context, c *ent.Client, drafts []productDraft, ids []int) error {
	var (
		sb   strings.Builder
		args []any
		rows int
	)
	// As the Translation's updated_at default (nowUTC) gives it.
	now := time.Now().UTC()
	flush := func() error {
		if rows == 0 {
			return nil
		}
		_, err := c.ExecContext(ctx, sb.String(), args...)
		sb.Reset()
		args, rows = args[:0], 0
		return err
	}
	for i := range drafts {
		for _, x := range drafts[i].en {
			if rows == 0 {
				sb.WriteString("INSERT INTO translations " + translationColumns + " VALUES ")
			} else {
				sb.WriteString(", ")
			}
			sb.WriteString(translationPlaceholders)
			args = append(args, string(i18n.Product), ids[i], "en", x.Field, x.Value, now)
			rows++
			if rows >= translationsPerRawInsert {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// tokenCache holds the index entries of each distinct text seen (search.IndexTexts of that
// text alone). search.IndexTexts adds up the entries of its texts one text at a time, so a
// product's index is the sum of its texts' cached entries.
type tokenCache struct {
	byText map[search.Text][]tokenWeight
}

type tokenWeight struct {
	token  string
	weight int
}

// maxCachedTexts bounds the cache; scale runs repeat far fewer texts than this.
const maxCachedTexts = 500_000

// index returns the index entries of draft d: its own text and its English translation.
func (tc *tokenCache) index(d *productDraft) map[string]int {
	texts := hooks.ProductTexts(d.title, d.description, d.attributes)
	for _, x := range d.en {
		texts = append(texts, hooks.TranslationText("en", x.Field, x.Value))
	}
	out := make(map[string]int, 96)
	for _, t := range texts {
		for _, tw := range tc.of(t) {
			out[tw.token] += tw.weight
		}
	}
	return out
}

func (tc *tokenCache) of(t search.Text) []tokenWeight {
	if tws, ok := tc.byText[t]; ok {
		return tws
	}
	if tc.byText == nil || len(tc.byText) >= maxCachedTexts {
		tc.byText = map[search.Text][]tokenWeight{}
	}
	m := search.IndexTexts([]search.Text{t})
	tws := make([]tokenWeight, 0, len(m))
	for tok, w := range m {
		tws = append(tws, tokenWeight{tok, w})
	}
	tc.byText[t] = tws
	return tws
}
