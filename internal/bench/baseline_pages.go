package bench

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/search"
)

// The baseline's keyword search, product detail and nested category page. Each writes
// what the GraphQL server answers for the benchmark's query (storefront_test.go), from the
// same tables, for an anonymous shopper: ACTIVE products of ACTIVE merchants.

// onSale writes the condition on products (alias p) that an anonymous shopper sees them:
// ACTIVE, of a merchant that is ACTIVE and open (not removed or suspended; the privacy
// rule, internal/rule) and, when listed, not restricted either (what lists and search
// add, internal/catalog). The merchant is a correlated subquery (see baselinePageSQL).
func (w *sqlWriter) onSale(now time.Time, listed bool) {
	w.s("p.status = 'ACTIVE' AND (SELECT m.status FROM merchants m WHERE m.id = p.merchant_id " +
		"AND m.removed_at IS NULL AND (m.suspended_until IS NULL OR m.suspended_until <= ").arg(now).s(")")
	if listed {
		w.s(" AND (m.restricted_until IS NULL OR m.restricted_until <= ").arg(now).s(")")
	}
	w.s(") = 'ACTIVE'")
}

// sqlWriter builds a statement and its arguments in the order of their placeholders.
type sqlWriter struct {
	sb   strings.Builder
	args []any
}

func (w *sqlWriter) s(text string) *sqlWriter { w.sb.WriteString(text); return w }

func (w *sqlWriter) arg(v any) *sqlWriter {
	w.sb.WriteByte('?')
	w.args = append(w.args, v)
	return w
}

// term writes the condition of one search term on search_tokens.token.
func (w *sqlWriter) term(t search.Term) {
	if t.Prefix {
		w.s("(token >= ").arg(t.Token).s(" AND token < ").arg(search.PrefixEnd(t.Token)).s(")")
		return
	}
	w.s("token = ").arg(t.Token)
}

// sumOverTerms writes Σ MAX(CASE WHEN <term> THEN <then> ELSE 0 END): a term counts once
// per product even when a prefix matches several of its tokens.
func (w *sqlWriter) sumOverTerms(q search.Query, then string) {
	w.s("(")
	for i, t := range q.Terms {
		if i > 0 {
			w.s(" + ")
		}
		w.s("MAX(CASE WHEN ")
		w.term(t)
		w.s(" THEN " + then + " ELSE 0 END)")
	}
	w.s(")")
}

// matches writes the products matching q from the keyword index, with their relevance
// score when scored: matched terms × search.ScoreScale + their summed weight. This is the
// ranking internal/catalog documents in docs/SEARCH.md, written by hand.
func (w *sqlWriter) matches(q search.Query, scored bool) {
	scale := strconv.Itoa(search.ScoreScale)
	if len(q.Terms) == 1 && !q.Terms[0].Prefix {
		w.s("SELECT product_id")
		if scored {
			w.s(", " + scale + " + weight AS score")
		}
		w.s(" FROM search_tokens WHERE ")
		w.term(q.Terms[0])
		return
	}
	w.s("SELECT product_id")
	if scored {
		w.s(", ")
		w.sumOverTerms(q, "1")
		w.s(" * " + scale + " + ")
		w.sumOverTerms(q, "weight")
		w.s(" AS score")
	}
	w.s(" FROM search_tokens WHERE (")
	for i, t := range q.Terms {
		if i > 0 {
			w.s(" OR ")
		}
		w.term(t)
	}
	w.s(") GROUP BY product_id HAVING ")
	w.sumOverTerms(q, "1")
	w.s(" >= ").arg(q.MinMatch)
}

// searchPage is the list's selection for a keyword, best match first (then the highest
// id), with the count of every match; three statements, as the list.
func (h *Baseline) searchPage(r *http.Request, req baselineRequest) (*baselineResponse, error) {
	first, err := pageSize(req)
	if err != nil {
		return nil, err
	}
	if req.Variables.Where == nil {
		return nil, badRequest("variables.where.keyword is required")
	}
	q := search.ParseQuery(strings.TrimSpace(req.Variables.Where.Keyword))
	if q.Empty() {
		resp := &baselineResponse{}
		resp.Data.Products.Edges = []baselineEdge{}
		return resp, nil
	}
	join := " CROSS JOIN " // keep the matches first (see internal/catalog.matchesFirst)
	if h.Dialect == "mysql" {
		join = " STRAIGHT_JOIN "
	}
	var page sqlWriter
	page.s("SELECT p.id, sm.score, p.title, p.images, p.min_price, p.max_price, p.currency, " +
		"(SELECT m.name FROM merchants m WHERE m.id = p.merchant_id) FROM (")
	page.matches(q, true)
	now := time.Now().UTC()
	page.s(") AS sm" + join + "products p ON p.id = sm.product_id WHERE ")
	page.onSale(now, true)
	page.s(" ORDER BY sm.score DESC, p.id DESC LIMIT ").arg(first + 1)
	var count sqlWriter
	count.s("SELECT COUNT(*) FROM products WHERE status = 'ACTIVE' AND " +
		"merchant_id IN (SELECT m.id FROM merchants m WHERE " + listedSQL + ") AND id IN (")
	count.args = append(count.args, now, now)
	count.matches(q, false)
	count.s(")")
	return h.productPage(r, first, page.sb.String(), page.args, count.sb.String(), count.args, true)
}

// The detail's response, field for field what the detail query selects.
type (
	detailResponse struct {
		Data struct {
			Product *detailProduct `json:"product"`
		} `json:"data"`
	}
	detailProduct struct {
		ID          string          `json:"id"`
		Title       string          `json:"title"`
		Description string          `json:"description"`
		Kind        string          `json:"kind"`
		Images      []baselineImage `json:"images"`
		Attributes  []nameValue     `json:"attributes"`
		PriceRange  struct {
			Min formattedMoney `json:"min"`
			Max formattedMoney `json:"max"`
		} `json:"priceRange"`
		Available bool `json:"available"`
		Merchant  struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Slug string `json:"slug"`
		} `json:"merchant"`
		Category *struct {
			ID     string  `json:"id"`
			Name   string  `json:"name"`
			NameEn string  `json:"nameEn"`
			Parent *idName `json:"parent"`
		} `json:"category"`
		Variants []detailVariant `json:"variants"`
	}
	detailVariant struct {
		ID        string         `json:"id"`
		SKU       string         `json:"sku"`
		Options   []nameValue    `json:"options"`
		Price     formattedMoney `json:"price"`
		Stock     *int           `json:"stock"` // null for a shopper, as in the list
		Available bool           `json:"available"`
	}
	baselineImage struct {
		URL string `json:"url"`
		Alt string `json:"alt"`
	}
	nameValue struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	idName struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	formattedMoney struct {
		Amount    string `json:"amount"`
		Currency  string `json:"currency"`
		Formatted string `json:"formatted"`
	}
)

func newFormattedMoney(minor int64, currency string) formattedMoney {
	m := money.New(minor, currency)
	return formattedMoney{Amount: m.Amount(), Currency: m.Currency, Formatted: m.Formatted()}
}

// The two statements of a detail: the product with its merchant, category and the
// category's parent (all by primary key), then its variants in position order.
const (
	detailProductSQL = "SELECT p.id, p.title, p.description, p.kind, p.status, p.images, p.attributes, " +
		"p.min_price, p.max_price, p.currency, p.total_stock, m.id, m.name, m.slug, m.status, " +
		"m.removed_at IS NULL AND (m.suspended_until IS NULL OR m.suspended_until <= ?), " +
		"c.id, c.name, c.name_en, pc.id, pc.name " +
		"FROM products p JOIN merchants m ON m.id = p.merchant_id " +
		"LEFT JOIN categories c ON c.id = p.category_id LEFT JOIN categories pc ON pc.id = c.parent_id " +
		"WHERE p.id = ?"
	detailVariantsSQL = "SELECT id, sku, options, price, currency, stock FROM product_variants " +
		"WHERE product_id = ? ORDER BY position, id"
)

// detailPage is the product of variables.id, or null when a shopper may not see it.
func (h *Baseline) detailPage(r *http.Request, req baselineRequest) (*detailResponse, error) {
	ctx := r.Context()
	id, err := strconv.Atoi(req.Variables.ID)
	if err != nil {
		return nil, badRequest("variables.id must be a product id")
	}
	resp := &detailResponse{}
	var (
		p                              detailProduct
		pid, mid                       int
		status, mStatus, currency      string
		images, attributes             []byte
		minPrice, maxPrice             int64
		totalStock                     int
		catID, parentID                sql.NullInt64
		catName, catNameEn, parentName sql.NullString
		open                           bool
	)
	h.Statements.Add(detailProductSQL)
	err = h.DB.QueryRowContext(ctx, detailProductSQL, time.Now().UTC(), id).Scan(&pid, &p.Title, &p.Description, &p.Kind, &status,
		&images, &attributes, &minPrice, &maxPrice, &currency, &totalStock, &mid, &p.Merchant.Name, &p.Merchant.Slug,
		&mStatus, &open, &catID, &catName, &catNameEn, &parentID, &parentName)
	if err == sql.ErrNoRows || (err == nil && (status != "ACTIVE" || mStatus != "ACTIVE" || !open)) {
		return resp, nil
	}
	if err != nil {
		return nil, fmt.Errorf("product: %w", err)
	}
	p.ID, p.Merchant.ID = strconv.Itoa(pid), strconv.Itoa(mid)
	var imgs []schematype.Image
	if err := json.Unmarshal(images, &imgs); err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	p.Images = make([]baselineImage, len(imgs))
	for i, img := range imgs {
		p.Images[i] = baselineImage{URL: img.URL, Alt: img.Alt}
	}
	p.Attributes = []nameValue{}
	if err := json.Unmarshal(attributes, &p.Attributes); err != nil {
		return nil, fmt.Errorf("attributes: %w", err)
	}
	p.PriceRange.Min = newFormattedMoney(minPrice, currency)
	p.PriceRange.Max = newFormattedMoney(maxPrice, currency)
	p.Available = status == "ACTIVE" && totalStock > 0
	if catID.Valid {
		p.Category = &struct {
			ID     string  `json:"id"`
			Name   string  `json:"name"`
			NameEn string  `json:"nameEn"`
			Parent *idName `json:"parent"`
		}{ID: strconv.FormatInt(catID.Int64, 10), Name: catName.String, NameEn: catNameEn.String}
		if parentID.Valid {
			p.Category.Parent = &idName{ID: strconv.FormatInt(parentID.Int64, 10), Name: parentName.String}
		}
	}

	h.Statements.Add(detailVariantsSQL)
	rows, err := h.DB.QueryContext(ctx, detailVariantsSQL, pid)
	if err != nil {
		return nil, fmt.Errorf("variants: %w", err)
	}
	defer rows.Close()
	p.Variants = []detailVariant{}
	for rows.Next() {
		var (
			v        detailVariant
			vid      int
			options  []byte
			price    int64
			currency string
			stock    int
		)
		if err := rows.Scan(&vid, &v.SKU, &options, &price, &currency, &stock); err != nil {
			return nil, fmt.Errorf("variants: %w", err)
		}
		v.ID = strconv.Itoa(vid)
		v.Options = []nameValue{}
		if err := json.Unmarshal(options, &v.Options); err != nil {
			return nil, fmt.Errorf("options: %w", err)
		}
		v.Price = newFormattedMoney(price, currency)
		v.Available = stock > 0 && status == "ACTIVE"
		p.Variants = append(p.Variants, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("variants: %w", err)
	}
	resp.Data.Product = &p
	return resp, nil
}

// The nested category page's response.
type (
	categoryResponse struct {
		Data struct {
			CategoryBySlug *categoryNode `json:"categoryBySlug"`
		} `json:"data"`
	}
	categoryNode struct {
		ID       string      `json:"id"`
		Name     string      `json:"name"`
		Children []childNode `json:"children"`
	}
	childNode struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Products struct {
			Edges []childProductEdge `json:"edges"`
		} `json:"products"`
	}
	childProductEdge struct {
		Node childProduct `json:"node"`
	}
	childProduct struct {
		ID       string        `json:"id"`
		Title    string        `json:"title"`
		Merchant *merchantNode `json:"merchant"`
	}
	merchantNode struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Products struct {
			Edges []merchantProductEdge `json:"edges"`
		} `json:"products"`
	}
	merchantProductEdge struct {
		Node merchantProduct `json:"node"`
	}
	merchantProduct struct {
		ID         string `json:"id"`
		Title      string `json:"title"`
		PriceRange struct {
			Min baselineMoney `json:"min"`
		} `json:"priceRange"`
	}
)

// Nested page sizes, as the benchmark's query asks.
const (
	nestedCategoryProducts = 5
	nestedMerchantProducts = 3
)

// categoryPage is the five-level page of variables.slug in five statements, whatever the
// number of children: the category, its children, the first products of every child (one
// UNION ALL, a branch per child that stops after its page), their merchants, and the
// first products of every merchant (one UNION ALL).
func (h *Baseline) categoryPage(r *http.Request, req baselineRequest) (*categoryResponse, error) {
	ctx := r.Context()
	resp := &categoryResponse{}
	const categorySQL = "SELECT id, name FROM categories WHERE slug = ?"
	var (
		c   categoryNode
		cid int
	)
	h.Statements.Add(categorySQL)
	err := h.DB.QueryRowContext(ctx, categorySQL, req.Variables.Slug).Scan(&cid, &c.Name)
	if err == sql.ErrNoRows {
		return resp, nil
	}
	if err != nil {
		return nil, fmt.Errorf("category: %w", err)
	}
	c.ID = strconv.Itoa(cid)
	resp.Data.CategoryBySlug = &c

	const childrenSQL = "SELECT id, name FROM categories WHERE parent_id = ? ORDER BY id"
	h.Statements.Add(childrenSQL)
	rows, err := h.DB.QueryContext(ctx, childrenSQL, cid)
	if err != nil {
		return nil, fmt.Errorf("children: %w", err)
	}
	c.Children = []childNode{}
	var childIDs []int
	for rows.Next() {
		var ch childNode
		var id int
		if err := rows.Scan(&id, &ch.Name); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("children: %w", err)
		}
		ch.ID = strconv.Itoa(id)
		ch.Products.Edges = []childProductEdge{}
		c.Children = append(c.Children, ch)
		childIDs = append(childIDs, id)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("children: %w", err)
	}
	if len(childIDs) == 0 {
		return resp, nil
	}

	// The first products of each child, in id order.
	hint := ""
	if h.Dialect == "mysql" {
		hint = " IGNORE INDEX FOR ORDER BY (PRIMARY)" // see docs/BENCHMARKS.md, nested pages
	}
	now := time.Now().UTC()
	var page sqlWriter
	for i, id := range childIDs {
		if i > 0 {
			page.s(" UNION ALL ")
		}
		page.s("SELECT * FROM (SELECT p.id, p.title, p.merchant_id, p.category_id FROM products p" + hint +
			" WHERE p.category_id = ").arg(id).s(" AND ")
		page.onSale(now, false)
		page.s(" ORDER BY p.id LIMIT ").arg(nestedCategoryProducts).s(") AS page_" + strconv.Itoa(i))
	}
	h.Statements.Add(page.sb.String())
	rows, err = h.DB.QueryContext(ctx, page.sb.String(), page.args...)
	if err != nil {
		return nil, fmt.Errorf("category products: %w", err)
	}
	byChild := map[int]*childNode{}
	for i := range c.Children {
		byChild[childIDs[i]] = &c.Children[i]
	}
	merchants := map[int]*merchantNode{}
	var merchantIDs []int
	type pending struct {
		child      *childNode
		edge       int
		merchantID int
	}
	var nodes []pending
	for rows.Next() {
		var (
			p                 childProduct
			id, mid, category int
		)
		if err := rows.Scan(&id, &p.Title, &mid, &category); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("category products: %w", err)
		}
		p.ID = strconv.Itoa(id)
		ch := byChild[category]
		ch.Products.Edges = append(ch.Products.Edges, childProductEdge{Node: p})
		nodes = append(nodes, pending{child: ch, edge: len(ch.Products.Edges) - 1, merchantID: mid})
		if merchants[mid] == nil {
			merchants[mid] = &merchantNode{ID: strconv.Itoa(mid)}
			merchants[mid].Products.Edges = []merchantProductEdge{}
			merchantIDs = append(merchantIDs, mid)
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("category products: %w", err)
	}
	if len(merchantIDs) == 0 {
		return resp, nil
	}

	var names sqlWriter
	names.s("SELECT id, name FROM merchants WHERE id IN (")
	for i, id := range merchantIDs {
		if i > 0 {
			names.s(", ")
		}
		names.arg(id)
	}
	names.s(")")
	h.Statements.Add(names.sb.String())
	rows, err = h.DB.QueryContext(ctx, names.sb.String(), names.args...)
	if err != nil {
		return nil, fmt.Errorf("merchants: %w", err)
	}
	for rows.Next() {
		var id int
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("merchants: %w", err)
		}
		merchants[id].Name = name
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("merchants: %w", err)
	}

	// The first products of each merchant, in id order (the merchant is ACTIVE: one of
	// its products is on sale).
	var mp sqlWriter
	for i, id := range merchantIDs {
		if i > 0 {
			mp.s(" UNION ALL ")
		}
		mp.s("SELECT * FROM (SELECT p.id, p.title, p.min_price, p.currency, p.merchant_id FROM products p" + hint +
			" WHERE p.merchant_id = ").arg(id).s(" AND p.status = 'ACTIVE' ORDER BY p.id LIMIT ").
			arg(nestedMerchantProducts).s(") AS page_" + strconv.Itoa(i))
	}
	h.Statements.Add(mp.sb.String())
	rows, err = h.DB.QueryContext(ctx, mp.sb.String(), mp.args...)
	if err != nil {
		return nil, fmt.Errorf("merchant products: %w", err)
	}
	for rows.Next() {
		var (
			p        merchantProduct
			id, mid  int
			minPrice int64
			currency string
		)
		if err := rows.Scan(&id, &p.Title, &minPrice, &currency, &mid); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("merchant products: %w", err)
		}
		p.ID = strconv.Itoa(id)
		p.PriceRange.Min = newBaselineMoney(minPrice, currency)
		m := merchants[mid]
		m.Products.Edges = append(m.Products.Edges, merchantProductEdge{Node: p})
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("merchant products: %w", err)
	}
	for _, n := range nodes {
		n.child.Products.Edges[n.edge].Node.Merchant = merchants[n.merchantID]
	}
	return resp, nil
}

// closeRows closes rows and reports the error that ended their iteration.
func closeRows(rows *sql.Rows) error {
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return err
	}
	return rows.Close()
}
