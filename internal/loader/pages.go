package loader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/category"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/review"
)

// The pages of nested connections: Merchant.products, Category.products and
// Product.reviews.
//
// Ent's field collection would eager-load them as ROW_NUMBER() OVER (PARTITION BY parent
// ORDER BY …) over every related row, keeping the first n of each partition: a window
// numbers the whole partition before any row is dropped, so a merchant's first 3 of 16,700
// products read all 16,700 (112 ms on SQLite, 166 ms on MariaDB, per statement; see
// docs/BENCHMARKS.md). Without collection they would be one or two statements per parent.
//
// Here the parents resolved together are batched (a dataloader per edge) and each batch
// of up to pageBatch parents is one statement, a UNION ALL of one branch per parent:
//
//	SELECT * FROM (SELECT … FROM products WHERE merchant_id = ? AND <privacy> AND <where>
//	               AND <cursor> ORDER BY <order>, id LIMIT n+1) AS page_0
//	UNION ALL SELECT * FROM (… merchant_id = ? …) AS page_1 …
//	ORDER BY <order>, id
//
// Each branch is exactly the query Paginate would send for its parent, so an index on
// (parent, status, order column) lets the database read the page and stop. totalCount,
// when asked for, is one GROUP BY per batch. The nodes eager-load what the selection asks
// of them (field collection), once per batch.

// pageBatch is the most parents one statement pages (SQLite allows 500 compound terms).
const pageBatch = 100

// PageArgs are the pagination arguments of a connection field.
type PageArgs struct {
	After  *ent.Cursor
	First  *int
	Before *ent.Cursor
	Last   *int
}

// limit is how many rows a parent's branch reads: one more than the page, to tell whether
// there is a next (or previous) page.
func (a PageArgs) limit() int {
	switch {
	case a.First != nil:
		return *a.First + 1
	case a.Last != nil:
		return *a.Last + 1
	}
	return 0
}

// pageRequest is one connection field of one operation, shared by the parents it is
// resolved for: its arguments and what its selection asks for.
type pageRequest struct {
	args  PageArgs
	order any // *ent.ProductOrder or *ent.ReviewOrder
	where any // *ent.ProductWhereInput or *ent.ReviewWhereInput
	// node is the selection of edges.node (or of nodes), for field collection; nil
	// without them.
	node *graphql.CollectedField
	// edges says the page is read: edges, nodes or pageInfo (whose cursors come from the
	// page) is selected; total that totalCount is.
	edges, total bool
}

// count reports whether the batch must count: for totalCount.
func (r *pageRequest) count() bool { return r.total }

// pageKey is one parent's page of one connection field.
type pageKey struct {
	parent int
	req    *pageRequest
}

// requestKey identifies a connection field within one operation.
type requestKey struct {
	op    *graphql.OperationContext
	field *ast.Field
}

// pageLoader batches the pages of one nested connection.
type pageLoader[C any] struct {
	dl *dataloader.Loader[pageKey, C]
	mu sync.Mutex
	// requests gives the parents of one field the same *pageRequest, so their keys batch;
	// a request leaves it once its batch is sent (websocket loaders live as long as their
	// connection).
	requests map[requestKey]*pageRequest
}

func newPageLoader[C any](fetch func(context.Context, *pageRequest, []int) (map[int]C, error), cached bool, wait time.Duration) *pageLoader[C] {
	p := &pageLoader[C]{requests: map[requestKey]*pageRequest{}}
	batch := func(ctx context.Context, keys []pageKey) []*dataloader.Result[C] {
		out := make([]*dataloader.Result[C], len(keys))
		groups := map[*pageRequest][]int{} // request → indexes of its keys
		var order []*pageRequest
		for i, k := range keys {
			if _, ok := groups[k.req]; !ok {
				order = append(order, k.req)
			}
			groups[k.req] = append(groups[k.req], i)
		}
		p.forget(order)
		for _, req := range order {
			idx := groups[req]
			var parents []int
			for _, i := range idx {
				if !slices.Contains(parents, keys[i].parent) {
					parents = append(parents, keys[i].parent)
				}
			}
			got := map[int]C{}
			var err error
			for chunk := range slices.Chunk(parents, pageBatch) {
				var part map[int]C
				if part, err = fetch(ctx, req, chunk); err != nil {
					break
				}
				for k, v := range part {
					got[k] = v
				}
			}
			for _, i := range idx {
				out[i] = &dataloader.Result[C]{Data: got[keys[i].parent], Error: err}
			}
		}
		return out
	}
	p.dl = dataloader.NewBatchedLoader(batch, options[pageKey, C](cached, wait)...)
	return p
}

// forget removes requests whose batch is being sent; later parents start a new batch.
func (p *pageLoader[C]) forget(reqs []*pageRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, r := range p.requests {
		if slices.Contains(reqs, r) {
			delete(p.requests, k)
		}
	}
}

// load returns parent's page of the connection field being resolved in ctx.
func (p *pageLoader[C]) load(ctx context.Context, parent int, args PageArgs, order, where any) (C, error) {
	fc := graphql.GetFieldContext(ctx)
	key := requestKey{op: graphql.GetOperationContext(ctx), field: fc.Field.Field}
	p.mu.Lock()
	req, ok := p.requests[key]
	if !ok {
		req = newPageRequest(ctx, fc, args, order, where)
		p.requests[key] = req
	}
	p.mu.Unlock()
	return p.dl.Load(ctx, pageKey{parent: parent, req: req})()
}

// newPageRequest reads what the connection field fc selects.
func newPageRequest(ctx context.Context, fc *graphql.FieldContext, args PageArgs, order, where any) *pageRequest {
	req := &pageRequest{args: args, order: order, where: where}
	oc := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFields(oc, fc.Field.Selections, nil) {
		switch f.Name {
		case "totalCount":
			req.total = true
		case "pageInfo":
			req.edges = true
		case "nodes":
			req.edges = true
			if req.node == nil {
				req.node = &f
			}
		case "edges":
			req.edges = true
			if req.node != nil {
				continue
			}
			for _, n := range graphql.CollectFields(oc, f.Selections, nil) {
				if n.Name == "node" {
					req.node = &n
					break
				}
			}
		}
	}
	return req
}

// collectionContext is ctx as field collection expects it for the nodes of a page: the
// field being resolved is edges.node.
func (r *pageRequest) collectionContext(ctx context.Context) context.Context {
	return graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: *r.node})
}

// unionPages turns the selector of an Ent query (its privacy and where predicates already
// applied) into one page per parent, as described at the top of this file. fk is the
// parent column, columns every column of the table (each branch reads whole rows, so the
// order column and the parent are there for the cursor and the grouping).
//
// With members, parent i's branch reads the rows whose fk is any of members[i] (a
// category and its descendants) and names its parent in the column pageParentColumn, as
// a row may belong to the pages of several parents of the batch.
func unionPages(fk string, columns []string, parents []int, members map[int][]int, orderColumn string, dir entgql.OrderDirection,
	after, before *ent.Cursor, limit int) func(*sql.Selector) {
	return func(s *sql.Selector) {
		d := sql.Dialect(s.Dialect())
		base := s.Clone()
		base.Select(base.Columns(columns...)...)
		base.ClearOrder()
		// Every column is named now, qualified by the table: the branches' FROM may be
		// rewritten below, and the statement is built later.
		parentCol, orderCol, idCol := base.C(fk), base.C(orderColumn), base.C("id")
		cursors := cursorPredicates(orderCol, idCol, dir, after, before)
		order := func(col, id string) []sql.Querier {
			out := []sql.Querier{sql.ExprFunc(func(x *sql.Builder) { x.Ident(col).Pad().WriteString(string(dir)) })}
			if orderColumn != "id" {
				out = append(out, sql.ExprFunc(func(x *sql.Builder) { x.Ident(id).Pad().WriteString(string(dir)) }))
			}
			return out
		}
		// The query's own condition, in parentheses: Ent's predicates lose the parentheses
		// of an OR (the privacy rule of a member, say) when a cloned selector adds an AND.
		cond := base.P()
		// A branch per parent; with members, a branch per member of each parent when the
		// statement stays within SQLite's compound limit: an equality on the fk lets the
		// (fk, on_sale) index give the rows in id order and stop at the limit, where
		// fk IN (…members) reads every row of every member and sorts them (thousands for
		// a top category). The caller keeps the first rows of each parent.
		type branch struct{ parent, member int }
		var branches []branch
		split := members != nil
		if split {
			for _, id := range parents {
				for _, m := range members[id] {
					branches = append(branches, branch{id, m})
				}
			}
			if len(branches) > maxBranches {
				split, branches = false, nil
			}
		}
		if !split {
			for _, id := range parents {
				branches = append(branches, branch{parent: id})
			}
		}
		var union *sql.Selector
		for i, br := range branches {
			id := br.parent
			b := base.Clone()
			if cond != nil {
				b.SetP(sql.P(func(x *sql.Builder) { x.Wrap(func(x *sql.Builder) { x.Join(cond) }) }))
			}
			switch {
			case members == nil:
				b.Where(sql.EQ(parentCol, id))
			case split:
				b.Where(sql.EQ(parentCol, br.member))
				b.AppendSelectExprAs(sql.Expr(strconv.Itoa(id)), pageParentColumn)
			default:
				in := make([]any, len(members[id]))
				for j, m := range members[id] {
					in[j] = m
				}
				b.Where(sql.In(parentCol, in...))
				b.AppendSelectExprAs(sql.Expr(strconv.Itoa(id)), pageParentColumn)
			}
			for _, p := range cursors {
				b.Where(p)
			}
			b.OrderExpr(order(orderCol, idCol)...).Limit(limit)
			if s.Dialect() == dialect.MySQL {
				// MariaDB and MySQL may walk the primary key in id order, filtering, and
				// stop at the LIMIT — fast when the parent has rows early in the table,
				// a scan of the whole table when it has few (seen: 8,252 rows read for a
				// page of 4). Not using the primary key for the order leaves them the
				// parent's index, which reads the page and stops. SQLite picks that
				// index by itself.
				table := b.TableName()
				b.FromExpr(sql.ExprFunc(func(x *sql.Builder) {
					x.Ident(table).WriteString(" IGNORE INDEX FOR ORDER BY (PRIMARY)")
				}))
			}
			name := fmt.Sprintf("page_%d", i)
			member := d.Select("*").FromExpr(sql.ExprFunc(func(x *sql.Builder) {
				x.Wrap(func(x *sql.Builder) { x.Join(b) }).WriteString(" AS ").Ident(name)
			}))
			if union == nil {
				union = member
			} else {
				union.UnionAll(member)
			}
		}
		union.OrderExpr(order(orderColumn, "id")...)
		*s = *union
	}
}

// maxBranches is the most branches one statement of unionPages splits into by member
// (SQLite allows 500 compound terms).
const maxBranches = 400

// pageParentColumn names the parent of a row in a page read by members (unionPages).
const pageParentColumn = "page_parent"

// pageParent is the parent a row read by members belongs to.
func pageParent(n interface {
	Value(string) (ent.Value, error)
}) (int, error) {
	v, err := n.Value(pageParentColumn)
	if err != nil {
		return 0, err
	}
	switch v := v.(type) {
	case int64:
		return int(v), nil
	case []byte:
		return strconv.Atoi(string(v))
	case string:
		return strconv.Atoi(v)
	}
	return 0, fmt.Errorf("loader: %s is a %T", pageParentColumn, v)
}

// cursorPredicates are entgql.CursorsPredicate with the columns named up front: rows after
// (or before) a cursor in the order, the id breaking ties. As in Ent's pager, both cursors
// compare the same way; dir is already reversed for last.
func cursorPredicates(orderCol, idCol string, dir entgql.OrderDirection, after, before *ent.Cursor) []*sql.Predicate {
	var out []*sql.Predicate
	for _, c := range []*ent.Cursor{after, before} {
		switch {
		case c == nil:
		case c.Value != nil && dir == entgql.OrderDirectionAsc:
			out = append(out, sql.CompositeGT([]string{orderCol, idCol}, c.Value, c.ID))
		case c.Value != nil:
			out = append(out, sql.CompositeLT([]string{orderCol, idCol}, c.Value, c.ID))
		case dir == entgql.OrderDirectionAsc:
			out = append(out, sql.GT(idCol, c.ID))
		default:
			out = append(out, sql.LT(idCol, c.ID))
		}
	}
	return out
}

// trimPage turns the rows read for one parent into its page, as Ent's Paginate does: the
// extra row says there is a next (or, with last, a previous) page, and a page read
// backwards is put back in order.
func trimPage[N any](nodes []N, a PageArgs) ([]N, ent.PageInfo) {
	var info ent.PageInfo
	info.HasNextPage = a.Before != nil
	info.HasPreviousPage = a.After != nil
	switch {
	case a.First != nil && *a.First+1 == len(nodes):
		info.HasNextPage = true
		nodes = nodes[:len(nodes)-1]
	case a.Last != nil && *a.Last+1 == len(nodes):
		info.HasPreviousPage = true
		nodes = nodes[:len(nodes)-1]
	}
	if a.Last != nil {
		nodes = slices.Clone(nodes)
		slices.Reverse(nodes)
	}
	return nodes, info
}

// pageOf is the page info of a connection whose page was not read (no edges selected).
func pageOf(a PageArgs, total int) ent.PageInfo {
	return ent.PageInfo{HasNextPage: a.First != nil && total > 0, HasPreviousPage: a.Last != nil && total > 0}
}

// groupCount is one parent's row count.
type groupCount struct {
	MerchantID int `sql:"merchant_id"`
	CategoryID int `sql:"category_id"`
	ProductID  int `sql:"product_id"`
	Count      int `sql:"count"`
}

func (g groupCount) parent(fk string) int {
	switch fk {
	case product.FieldMerchantID:
		return g.MerchantID
	case product.FieldCategoryID:
		return g.CategoryID
	}
	return g.ProductID
}

// inParents keeps the rows of the given parents.
func inParents(fk string, parents []int) func(*sql.Selector) {
	return func(s *sql.Selector) {
		ids := make([]any, len(parents))
		for i, id := range parents {
			ids[i] = id
		}
		s.Where(sql.In(s.C(fk), ids...))
	}
}

// productOrderColumns maps the product orders to their columns.
var productOrderColumns = map[string]string{
	"":            product.FieldID, // the default order
	"CREATED_AT":  product.FieldCreatedAt,
	"UPDATED_AT":  product.FieldUpdatedAt,
	"TITLE":       product.FieldTitle,
	"SALES_COUNT": product.FieldSalesCount,
	"PRICE":       product.FieldMinPrice,
	"RATING":      product.FieldRatingAverage,
}

// MerchantProducts returns one page of merchant m's products, batched with the other
// merchants of the same field (outside a GraphQL field, or without loaders, one query).
func (l *Loaders) MerchantProducts(ctx context.Context, m *ent.Merchant, a PageArgs, order *ent.ProductOrder, where *ent.ProductWhereInput) (*ent.ProductConnection, error) {
	if l == nil || graphql.GetFieldContext(ctx) == nil {
		return m.QueryProducts().Paginate(ctx, a.After, a.First, a.Before, a.Last,
			ent.WithProductOrder(order), ent.WithProductFilter(where.Filter))
	}
	return l.merchantProducts.load(ctx, m.ID, a, order, where)
}

// CategoryProducts returns one page of category c's products — with subcategories, of c
// and every category below it, at any depth — batched with the other categories of the
// same field. The descendants of a batch's categories are resolved once, by one recursive
// query (categoryTrees), and each category's page is then one branch of the batch's
// statement, as for merchants.
func (l *Loaders) CategoryProducts(ctx context.Context, c *ent.Category, a PageArgs, subcategories bool, order *ent.ProductOrder, where *ent.ProductWhereInput) (*ent.ProductConnection, error) {
	if l == nil || graphql.GetFieldContext(ctx) == nil {
		q := c.QueryProducts()
		if subcategories {
			db := ent.FromContext(ctx)
			if db == nil && l != nil {
				db = l.client
			}
			if db == nil {
				return nil, errors.New("loader: a category's products with subcategories need loaders or a transaction in ctx")
			}
			trees, err := categoryTrees(ctx, db, []int{c.ID})
			if err != nil {
				return nil, err
			}
			q = db.Product.Query().Where(product.CategoryIDIn(trees[c.ID]...))
		}
		return q.Paginate(ctx, a.After, a.First, a.Before, a.Last, ent.WithProductOrder(order), ent.WithProductFilter(where.Filter))
	}
	if subcategories {
		return l.categoryTreeProducts.load(ctx, c.ID, a, order, where)
	}
	return l.categoryProducts.load(ctx, c.ID, a, order, where)
}

// categoryTrees maps each of roots to itself and every category below it, at any depth,
// with one recursive query (SQLite, MySQL 8 and MariaDB all have them). Categories are
// public, so no privacy applies; the products read with them are filtered as the viewer.
func categoryTrees(ctx context.Context, db *ent.Client, roots []int) (map[int][]int, error) {
	var rows []struct {
		Root int `sql:"root"`
		ID   int `sql:"id"`
	}
	// Through Ent's builder (not a raw query), so it runs on the request's transaction and
	// driver like every other statement. UNION, not UNION ALL: a (corrupt) cycle of parents
	// ends the walk instead of looping.
	err := db.Category.Query().Modify(func(s *sql.Selector) {
		d := sql.Dialect(s.Dialect())
		tree := d.Select("root", "id").From(sql.Table("category_tree"))
		tree.Prefix(d.Expr(func(x *sql.Builder) {
			x.WriteString("WITH RECURSIVE ").Ident("category_tree").WriteString(" (").Ident("root").WriteString(", ").Ident("id").
				WriteString(") AS (SELECT ").Ident(category.FieldID).WriteString(", ").Ident(category.FieldID).
				WriteString(" FROM ").Ident(category.Table).WriteString(" WHERE ").Ident(category.FieldID).WriteString(" IN (")
			// The ids are integers, written as literals: a prefix's arguments are not
			// carried into the statement by Ent's selector.
			for i, id := range roots {
				if i > 0 {
					x.WriteString(", ")
				}
				x.WriteString(strconv.Itoa(id))
			}
			x.WriteString(") UNION SELECT ").Ident("t").WriteString(".").Ident("root").WriteString(", ").
				Ident("c").WriteString(".").Ident(category.FieldID).WriteString(" FROM ").Ident(category.Table).
				WriteString(" AS ").Ident("c").WriteString(" JOIN ").Ident("category_tree").WriteString(" AS ").Ident("t").
				WriteString(" ON ").Ident("c").WriteString(".").Ident(category.FieldParentID).WriteString(" = ").
				Ident("t").WriteString(".").Ident("id").WriteString(")")
		}))
		*s = *tree
	}).Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	out := make(map[int][]int, len(roots))
	for _, r := range rows {
		out[r.Root] = append(out[r.Root], r.ID)
	}
	return out, nil
}

// productPages reads the product pages of parents through the column fk.
//
// With trees, each parent's page draws from the parent and its descendants (categoryTrees),
// and parentOf is not used: the rows name their parent.
func (l *Loaders) productPages(fk string, parentOf func(*ent.Product) int, trees bool) func(context.Context, *pageRequest, []int) (map[int]*ent.ProductConnection, error) {
	return func(ctx context.Context, req *pageRequest, parents []int) (map[int]*ent.ProductConnection, error) {
		order, _ := req.order.(*ent.ProductOrder)
		if order == nil {
			order = ent.DefaultProductOrder
		}
		if order.Field == nil {
			order = &ent.ProductOrder{Direction: order.Direction, Field: ent.DefaultProductOrder.Field}
		}
		if err := order.Direction.Validate(); err != nil {
			return nil, err
		}
		column, ok := productOrderColumns[order.Field.String()]
		if !ok {
			return nil, fmt.Errorf("loader: no column for the product order %q", order.Field.String())
		}
		where, _ := req.where.(*ent.ProductWhereInput)
		client := l.db(ctx)
		var members map[int][]int // parent → the fk values of its page, with trees
		inScope := parents
		if trees {
			var err error
			if members, err = categoryTrees(ctx, client, parents); err != nil {
				return nil, err
			}
			inScope = nil
			for _, ids := range members {
				inScope = append(inScope, ids...)
			}
			slices.Sort(inScope)
			inScope = slices.Compact(inScope)
		}
		totals := map[int]int{}
		if req.count() {
			q, err := where.Filter(client.Product.Query().Where(inParents(fk, inScope)))
			if err != nil {
				return nil, err
			}
			var rows []groupCount
			if err := q.GroupBy(fk).Aggregate(ent.Count()).Scan(ctx, &rows); err != nil {
				return nil, err
			}
			counts := map[int]int{}
			for _, r := range rows {
				counts[r.parent(fk)] = r.Count
			}
			for _, id := range parents {
				if !trees {
					totals[id] = counts[id]
					continue
				}
				for _, m := range members[id] {
					totals[id] += counts[m]
				}
			}
		}
		pages := map[int][]*ent.Product{}
		if limit := req.args.limit(); req.edges && limit > 1 {
			q, err := where.Filter(client.Product.Query())
			if err != nil {
				return nil, err
			}
			if req.node != nil {
				if q, err = q.CollectFields(req.collectionContext(ctx), "Product", "Node"); err != nil {
					return nil, err
				}
			}
			dir := order.Direction
			if req.args.Last != nil {
				dir = dir.Reverse()
			}
			q.Modify(unionPages(fk, product.Columns, parents, members, column, dir, req.args.After, req.args.Before, limit))
			nodes, err := q.All(ctx)
			if err != nil {
				return nil, err
			}
			l.PrimeProductStatuses(ctx, nodes...)
			for _, n := range nodes {
				parent := 0
				if trees {
					if parent, err = pageParent(n); err != nil {
						return nil, err
					}
				} else {
					parent = parentOf(n)
				}
				// Split by member, a parent gets up to limit rows per member, in order.
				if len(pages[parent]) < limit {
					pages[parent] = append(pages[parent], n)
				}
			}
		}
		out := make(map[int]*ent.ProductConnection, len(parents))
		for _, id := range parents {
			conn := &ent.ProductConnection{Edges: []*ent.ProductEdge{}, TotalCount: totals[id]}
			if !req.edges {
				conn.PageInfo = pageOf(req.args, totals[id])
				out[id] = conn
				continue
			}
			var nodes []*ent.Product
			nodes, conn.PageInfo = trimPage(pages[id], req.args)
			for _, n := range nodes {
				conn.Edges = append(conn.Edges, n.ToEdge(order))
			}
			if k := len(conn.Edges); k > 0 {
				conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &conn.Edges[0].Cursor, &conn.Edges[k-1].Cursor
			}
			if conn.TotalCount == 0 {
				conn.TotalCount = len(nodes)
			}
			out[id] = conn
		}
		return out, nil
	}
}

// reviewOrderColumns maps the review orders to their columns.
var reviewOrderColumns = map[string]string{
	"":           review.FieldID,
	"CREATED_AT": review.FieldCreatedAt,
	"UPDATED_AT": review.FieldUpdatedAt,
	"RATING":     review.FieldRating,
	"HELPFUL":    review.FieldHelpfulCount,
}

// ProductReviews returns one page of product p's reviews, batched with the other products
// of the same field.
func (l *Loaders) ProductReviews(ctx context.Context, p *ent.Product, a PageArgs, order *ent.ReviewOrder, where *ent.ReviewWhereInput) (*ent.ReviewConnection, error) {
	if l == nil || graphql.GetFieldContext(ctx) == nil {
		return p.QueryReviews().Paginate(ctx, a.After, a.First, a.Before, a.Last,
			ent.WithReviewOrder(order), ent.WithReviewFilter(where.Filter))
	}
	return l.productReviews.load(ctx, p.ID, a, order, where)
}

func (l *Loaders) reviewPages(ctx context.Context, req *pageRequest, parents []int) (map[int]*ent.ReviewConnection, error) {
	const fk = review.FieldProductID
	order, _ := req.order.(*ent.ReviewOrder)
	if order == nil {
		order = ent.DefaultReviewOrder
	}
	if order.Field == nil {
		order = &ent.ReviewOrder{Direction: order.Direction, Field: ent.DefaultReviewOrder.Field}
	}
	if err := order.Direction.Validate(); err != nil {
		return nil, err
	}
	column, ok := reviewOrderColumns[order.Field.String()]
	if !ok {
		return nil, fmt.Errorf("loader: no column for the review order %q", order.Field.String())
	}
	where, _ := req.where.(*ent.ReviewWhereInput)
	client := l.db(ctx)
	totals := map[int]int{}
	if req.count() {
		q, err := where.Filter(client.Review.Query().Where(inParents(fk, parents)))
		if err != nil {
			return nil, err
		}
		var rows []groupCount
		if err := q.GroupBy(fk).Aggregate(ent.Count()).Scan(ctx, &rows); err != nil {
			return nil, err
		}
		for _, r := range rows {
			totals[r.parent(fk)] = r.Count
		}
	}
	pages := map[int][]*ent.Review{}
	if limit := req.args.limit(); req.edges && limit > 1 {
		q, err := where.Filter(client.Review.Query())
		if err != nil {
			return nil, err
		}
		if req.node != nil {
			if q, err = q.CollectFields(req.collectionContext(ctx), "Review", "Node"); err != nil {
				return nil, err
			}
		}
		dir := order.Direction
		if req.args.Last != nil {
			dir = dir.Reverse()
		}
		q.Modify(unionPages(fk, review.Columns, parents, nil, column, dir, req.args.After, req.args.Before, limit))
		nodes, err := q.All(ctx)
		if err != nil {
			return nil, err
		}
		for _, n := range nodes {
			pages[n.ProductID] = append(pages[n.ProductID], n)
		}
	}
	out := make(map[int]*ent.ReviewConnection, len(parents))
	for _, id := range parents {
		conn := &ent.ReviewConnection{Edges: []*ent.ReviewEdge{}, TotalCount: totals[id]}
		if !req.edges {
			conn.PageInfo = pageOf(req.args, totals[id])
			out[id] = conn
			continue
		}
		var nodes []*ent.Review
		nodes, conn.PageInfo = trimPage(pages[id], req.args)
		for _, n := range nodes {
			conn.Edges = append(conn.Edges, n.ToEdge(order))
		}
		if k := len(conn.Edges); k > 0 {
			conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &conn.Edges[0].Cursor, &conn.Edges[k-1].Cursor
		}
		if conn.TotalCount == 0 {
			conn.TotalCount = len(nodes)
		}
		out[id] = conn
	}
	return out, nil
}
