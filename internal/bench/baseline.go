package bench

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/money"
)

// Baseline answers the product-list request (scenario "list") by hand, with net/http,
// database/sql and encoding/json and nothing of GraphQL or Ent: the fewest statements that
// produce the same page (the 20 newest ACTIVE products of ACTIVE merchants with their
// merchant's name, variants and first image, and the total count) in the same JSON shape.
// Its throughput is what this machine can do for that page; the distance to it is what
// the GraphQL stack costs.
type Baseline struct {
	// DB is the pool the real server uses, so both share the same connection limits.
	DB *sql.DB
	// Statements counts the statements the handler sends.
	Statements *StatementCounter
}

// The three statements of a page, written for the plans both SQLite and MariaDB/MySQL
// pick with 100k products (checked with EXPLAIN):
//   - the page walks the (status, created_at) index backwards and stops after first+1
//     rows; the merchant's status and name are correlated scalar subqueries because a
//     JOIN, IN or EXISTS on merchants lets MariaDB start from the merchants and sort
//     every product of theirs (hundreds of milliseconds at 100k);
//   - the count reads only the (merchant_id, status, …) index, once per ACTIVE merchant;
//   - the variants of the page come in one statement, in position order.
const (
	baselinePageSQL = "SELECT p.id, p.created_at, p.title, p.images, p.min_price, p.max_price, p.currency, " +
		"(SELECT m.name FROM merchants m WHERE m.id = p.merchant_id) " +
		"FROM products p " +
		"WHERE p.status = 'ACTIVE' AND (SELECT m.status FROM merchants m WHERE m.id = p.merchant_id) = 'ACTIVE' " +
		"ORDER BY p.created_at DESC, p.id DESC LIMIT ?"
	baselineCountSQL = "SELECT COUNT(*) FROM products " +
		"WHERE status = 'ACTIVE' AND merchant_id IN (SELECT id FROM merchants WHERE status = 'ACTIVE')"
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
		SKU       string        `json:"sku"`
		Price     baselineMoney `json:"price"`
		Stock     int           `json:"stock"`
		Available bool          `json:"available"`
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

// ServeHTTP reads variables.first from a GraphQL request body and writes the page.
func (h *Baseline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Variables struct {
			First *int `json:"first"`
		} `json:"variables"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		http.Error(w, "bad request body", http.StatusBadRequest)
		return
	}
	first := 20
	if req.Variables.First != nil {
		first = *req.Variables.First
	}
	if first < 1 || first > 100 {
		http.Error(w, "first must be between 1 and 100", http.StatusBadRequest)
		return
	}
	resp, err := h.page(r, first)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (h *Baseline) page(r *http.Request, first int) (*baselineResponse, error) {
	ctx := r.Context()
	conn := baselineConnection{Edges: []baselineEdge{}}
	h.Statements.Add(baselinePageSQL)
	rows, err := h.DB.QueryContext(ctx, baselinePageSQL, first+1)
	if err != nil {
		return nil, fmt.Errorf("page: %w", err)
	}
	byID := map[int]*baselineProduct{}
	var ids []int
	var lastCreated time.Time
	for rows.Next() {
		if len(ids) == first {
			conn.PageInfo.HasNextPage = true
			break
		}
		var (
			p                  baselineProduct
			id                 int
			created            time.Time
			images             []byte
			minPrice, maxPrice int64
			currency           string
		)
		if err := rows.Scan(&id, &created, &p.Title, &images, &minPrice, &maxPrice, &currency, &p.Merchant.Name); err != nil {
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
		lastCreated = created
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("page: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("page: %w", err)
	}
	if len(ids) > 0 {
		conn.PageInfo.EndCursor = &baselineCursor{ID: ids[len(ids)-1], Value: lastCreated}
	}

	h.Statements.Add(baselineCountSQL)
	if err := h.DB.QueryRowContext(ctx, baselineCountSQL).Scan(&conn.TotalCount); err != nil {
		return nil, fmt.Errorf("count: %w", err)
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
			)
			if err := rows.Scan(&productID, &v.SKU, &price, &currency, &v.Stock); err != nil {
				return nil, fmt.Errorf("variants: %w", err)
			}
			v.Price = newBaselineMoney(price, currency)
			// Every listed product is ACTIVE, so a variant is available when it has stock.
			v.Available = v.Stock > 0
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
