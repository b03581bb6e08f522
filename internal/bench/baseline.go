package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/money"
)

// Baseline answers the storefront's requests by hand, with net/http, database/sql and
// encoding/json and nothing of GraphQL or Ent: for each page the fewest statements that
// produce the same rows in the same JSON shape as the GraphQL server. Its throughput is
// what this machine can do for that page; the distance to it is what the GraphQL stack
// costs. The pages, by path:
//
//   - /products: the list (the 20 newest ACTIVE products of ACTIVE merchants with their
//     merchant's name, variants and first image, and the total count); variables.first;
//   - /search: the same selection for variables.where.keyword, in relevance order
//     (baseline_pages.go);
//   - /product: the product detail of variables.id (baseline_pages.go);
//   - /category: the nested category page of variables.slug (baseline_pages.go).
type Baseline struct {
	// DB is the pool the real server uses, so both share the same connection limits.
	DB *sql.DB
	// Statements counts the statements the handler sends.
	Statements *StatementCounter
	// Dialect is the database's: "sqlite" or "mysql".
	Dialect string
	// counts keeps the exact counts past ExactCountLimit, counted once per statement and
	// arguments (the catalogue does not change during a run).
	counts sync.Map
}

// ExactCountLimit is the largest count the baseline takes on every request, as the
// server does (catalog.ExactCountLimit): past it, it counts once and keeps the figure —
// the best a hand-written handler could do, and no worse than the server's background
// count, whose figure it compares equal to (sameData).
const ExactCountLimit = 1000

// count counts the rows of countSQL (SELECT COUNT(*) FROM products WHERE …) up to
// ExactCountLimit+1, and past it gives the exact count taken once.
func (h *Baseline) count(ctx context.Context, countSQL string, args []any, n *int) error {
	rest, ok := strings.CutPrefix(countSQL, "SELECT COUNT(*) FROM ")
	if !ok {
		return fmt.Errorf("count: unexpected statement %q", countSQL)
	}
	bounded := "SELECT COUNT(*) FROM (SELECT 1 FROM " + rest + " LIMIT " + strconv.Itoa(ExactCountLimit+1) + ") AS bounded"
	h.Statements.Add(bounded)
	if err := h.DB.QueryRowContext(ctx, bounded, args...).Scan(n); err != nil {
		return fmt.Errorf("count: %w", err)
	}
	if *n <= ExactCountLimit {
		return nil
	}
	// The key leaves out the clock (the restriction and suspension checks compare with
	// now): the count is taken once for the run.
	var keyArgs []any
	for _, a := range args {
		if _, isTime := a.(time.Time); !isTime {
			keyArgs = append(keyArgs, a)
		}
	}
	key := fmt.Sprint(countSQL, keyArgs)
	if v, ok := h.counts.Load(key); ok {
		*n = v.(int)
		return nil
	}
	h.Statements.Add(countSQL)
	if err := h.DB.QueryRowContext(ctx, countSQL, args...).Scan(n); err != nil {
		return fmt.Errorf("count: %w", err)
	}
	h.counts.Store(key, *n)
	return nil
}

// The three statements of a page, written for the plans both SQLite and MariaDB/MySQL
// pick with 100k products (checked with EXPLAIN):
//   - the page walks the (status, created_at) index backwards and stops after first+1
//     rows; the merchant's status and name are correlated scalar subqueries because a
//     JOIN, IN or EXISTS on merchants lets MariaDB start from the merchants and sort
//     every product of theirs (hundreds of milliseconds at 100k);
//   - the count reads only the (merchant_id, status, …) index, once per listed merchant;
//   - the variants of the page come in one statement, in position order.
//
// A listed merchant is ACTIVE, neither removed nor suspended nor restricted at the time
// of the request (internal/credit/standing.Listed): the two "?" of listedSQL are now.
const (
	listedSQL = "m.status = 'ACTIVE' AND m.removed_at IS NULL AND (m.suspended_until IS NULL OR m.suspended_until <= ?) " +
		"AND (m.restricted_until IS NULL OR m.restricted_until <= ?)"
	baselinePageSQL = "SELECT p.id, p.created_at, p.title, p.images, p.min_price, p.max_price, p.currency, " +
		"(SELECT m.name FROM merchants m WHERE m.id = p.merchant_id) " +
		"FROM products p " +
		"WHERE p.status = 'ACTIVE' AND (SELECT m.status FROM merchants m WHERE m.id = p.merchant_id AND " + listedSQL + ") = 'ACTIVE' " +
		"ORDER BY p.created_at DESC, p.id DESC LIMIT ?"
	baselineCountSQL = "SELECT COUNT(*) FROM products " +
		"WHERE status = 'ACTIVE' AND merchant_id IN (SELECT m.id FROM merchants m WHERE " + listedSQL + ")"
	baselineVariantsSQL = "SELECT product_id, sku, price, currency, stock FROM product_variants " +
		"WHERE product_id IN (%s) ORDER BY product_id, position"
)

// The response, field for field what the list query selects.
type (
	baselineResponse struct {
		Data struct {
			Products baselineConnection `json:"products"`
		} `json:"data"`
	}
	baselineConnection struct {
		TotalCount int `json:"totalCount"`
		PageInfo   struct {
			HasNextPage bool            `json:"hasNextPage"`
			EndCursor   *baselineCursor `json:"endCursor"`
		} `json:"pageInfo"`
		Edges []baselineEdge `json:"edges"`
	}
	baselineEdge struct {
		Node *baselineProduct `json:"node"`
	}
	baselineProduct struct {
		ID       string `json:"id"`
		Title    string `json:"title"`
		Merchant struct {
			Name string `json:"name"`
		} `json:"merchant"`
		FeaturedImage *schematype.Image `json:"featuredImage"`
		PriceRange    struct {
			Min baselineMoney `json:"min"`
			Max baselineMoney `json:"max"`
		} `json:"priceRange"`
		Variants []baselineVariant `json:"variants"`
	}
	baselineVariant struct {
		SKU   string        `json:"sku"`
		Price baselineMoney `json:"price"`
		// Stock is null: exact stock is shown to the merchant's staff only
		// (internal/catalog.SeesExactStock), and every benchmark request is anonymous.
		Stock     *int `json:"stock"`
		Available bool `json:"available"`
	}
	baselineMoney struct {
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	}
)

// baselineCursor encodes like the GraphQL server's cursors.
type baselineCursor entgql.Cursor[int]

func (c baselineCursor) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	entgql.Cursor[int](c).MarshalGQL(&buf)
	return buf.Bytes(), nil
}

func newBaselineMoney(minor int64, currency string) baselineMoney {
	m := money.New(minor, currency)
	return baselineMoney{Amount: m.Amount(), Currency: m.Currency}
}

// baselineRequest is what the pages read of a GraphQL request body.
type baselineRequest struct {
	Variables struct {
		First *int   `json:"first"`
		ID    string `json:"id"`
		Slug  string `json:"slug"`
		Where *struct {
			Keyword string `json:"keyword"`
		} `json:"where"`
	} `json:"variables"`
}

// Paths of the baseline's pages.
const (
	BaselineListPath     = "/products"
	BaselineSearchPath   = "/search"
	BaselineDetailPath   = "/product"
	BaselineCategoryPath = "/category"
)

// ServeHTTP reads the variables of a GraphQL request body and writes the page of the path.
func (h *Baseline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req baselineRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		http.Error(w, "bad request body", http.StatusBadRequest)
		return
	}
	var (
		resp any
		err  error
	)
	switch r.URL.Path {
	case BaselineListPath:
		resp, err = h.listPage(r, req)
	case BaselineSearchPath:
		resp, err = h.searchPage(r, req)
	case BaselineDetailPath:
		resp, err = h.detailPage(r, req)
	case BaselineCategoryPath:
		resp, err = h.categoryPage(r, req)
	default:
		http.NotFound(w, r)
		return
	}
	var bad badRequest
	switch {
	case errors.As(err, &bad):
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// badRequest is a request the baseline refuses, as the server would.
type badRequest string

func (e badRequest) Error() string { return string(e) }

// pageSize reads variables.first: 20 by default, 1 to 100.
func pageSize(req baselineRequest) (int, error) {
	first := 20
	if req.Variables.First != nil {
		first = *req.Variables.First
	}
	if first < 1 || first > 100 {
		return 0, badRequest("first must be between 1 and 100")
	}
	return first, nil
}

// listPage is the product list.
func (h *Baseline) listPage(r *http.Request, req baselineRequest) (*baselineResponse, error) {
	first, err := pageSize(req)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	return h.productPage(r, first, baselinePageSQL, []any{now, now, first + 1}, baselineCountSQL, []any{now, now}, false)
}

// productPage runs the page statement (its last column the cursor's value when scored,
// else created_at), the count statement and the variants' statement, and builds the
// connection.
func (h *Baseline) productPage(r *http.Request, first int, pageSQL string, pageArgs []any,
	countSQL string, countArgs []any, scored bool) (*baselineResponse, error) {
	ctx := r.Context()
	conn := baselineConnection{Edges: []baselineEdge{}}
	h.Statements.Add(pageSQL)
	rows, err := h.DB.QueryContext(ctx, pageSQL, pageArgs...)
	if err != nil {
		return nil, fmt.Errorf("page: %w", err)
	}
	byID := map[int]*baselineProduct{}
	var ids []int
	var lastValue any
	for rows.Next() {
		if len(ids) == first {
			conn.PageInfo.HasNextPage = true
			break
		}
		var (
			p                  baselineProduct
			id                 int
			created            time.Time
			score              int64
			images             []byte
			minPrice, maxPrice int64
			currency           string
		)
		value := any(&created)
		if scored {
			value = &score
		}
		if err := rows.Scan(&id, value, &p.Title, &images, &minPrice, &maxPrice, &currency, &p.Merchant.Name); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("page: %w", err)
		}
		var imgs []schematype.Image
		if err := json.Unmarshal(images, &imgs); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("images of product %d: %w", id, err)
		}
		if len(imgs) > 0 {
			p.FeaturedImage = &imgs[0]
		}
		p.ID = strconv.Itoa(id)
		p.PriceRange.Min = newBaselineMoney(minPrice, currency)
		p.PriceRange.Max = newBaselineMoney(maxPrice, currency)
		p.Variants = []baselineVariant{}
		conn.Edges = append(conn.Edges, baselineEdge{Node: &p})
		byID[id] = &p
		ids = append(ids, id)
		if scored {
			lastValue = score
		} else {
			lastValue = created
		}
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("page: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("page: %w", err)
	}
	if len(ids) > 0 {
		conn.PageInfo.EndCursor = &baselineCursor{ID: ids[len(ids)-1], Value: lastValue}
	}

	if err := h.count(ctx, countSQL, countArgs, &conn.TotalCount); err != nil {
		return nil, err
	}

	if len(ids) > 0 {
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		q := fmt.Sprintf(baselineVariantsSQL, strings.TrimSuffix(strings.Repeat("?,", len(ids)), ","))
		h.Statements.Add(q)
		rows, err := h.DB.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("variants: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				productID int
				v         baselineVariant
				price     int64
				currency  string
				stock     int
			)
			if err := rows.Scan(&productID, &v.SKU, &price, &currency, &stock); err != nil {
				return nil, fmt.Errorf("variants: %w", err)
			}
			v.Price = newBaselineMoney(price, currency)
			// Every listed product is ACTIVE, so a variant is available when it has stock.
			v.Available = stock > 0
			p := byID[productID]
			p.Variants = append(p.Variants, v)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("variants: %w", err)
		}
	}
	resp := &baselineResponse{}
	resp.Data.Products = conn
	return resp, nil
}
