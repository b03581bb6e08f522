package catalog

import (
	"context"
	"fmt"
	"slices"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/product"
)

// The storefront list is paged by keyset: ORDER BY <column> <dir>, id <dir> LIMIT n+1,
// after the cursor's (value, id). With the on-sale filter an equality on on_sale, the
// (on_sale, <column>) indexes (InnoDB appends the id) give the rows in that order, so a page
// reads n+1 index entries and stops, wherever it is in the list. The cursors are those of
// Ent's generated pager (Product.ToEdge), so a cursor from either works with the other.

// orderColumns maps the product orders to their columns.
var orderColumns = map[string]string{
	"CREATED_AT":  product.FieldCreatedAt,
	"UPDATED_AT":  product.FieldUpdatedAt,
	"TITLE":       product.FieldTitle,
	"SALES_COUNT": product.FieldSalesCount,
	"PRICE":       product.FieldMinPrice,
	"RATING":      product.FieldRatingAverage,
}

// keysetPage reads one page of query in order, with the nodes' edges the selection asks
// for. It counts nothing: totalCount is the caller's (countPage).
func keysetPage(ctx context.Context, query *ent.ProductQuery, page Page, order *ent.ProductOrder) (*ent.ProductConnection, error) {
	if err := validatePage(page); err != nil {
		return nil, err
	}
	if order.Field == nil {
		order = &ent.ProductOrder{Direction: order.Direction, Field: NewestFirst.Field}
	}
	if err := order.Direction.Validate(); err != nil {
		return nil, err
	}
	column, ok := orderColumns[order.Field.String()]
	if !ok {
		return nil, fmt.Errorf("catalog: no column for the product order %q", order.Field.String())
	}
	conn := &ent.ProductConnection{Edges: []*ent.ProductEdge{}}
	wantPage := requested(ctx, "edges") || requested(ctx, "nodes") || requested(ctx, "pageInfo")
	if !wantPage || (page.First != nil && *page.First == 0) || (page.Last != nil && *page.Last == 0) {
		return conn, nil
	}
	dir := order.Direction
	if page.Last != nil {
		dir = dir.Reverse()
	}
	q := query.Clone()
	for _, c := range []*ent.Cursor{page.After, page.Before} {
		if c != nil {
			q.Where(afterCursor(column, dir, c))
		}
	}
	if err := collectNodeFields(ctx, q); err != nil {
		return nil, err
	}
	// The cursor needs the order column, which a narrow selection may not load (Ent's
	// pager appends it too). A modifier runs after the columns are chosen; a column read
	// twice is assigned twice.
	q.Modify(func(s *sql.Selector) { s.AppendSelect(s.C(column)) })
	limit := 0
	switch {
	case page.First != nil:
		limit = *page.First
	case page.Last != nil:
		limit = *page.Last
	}
	if limit > 0 {
		q.Limit(limit + 1)
	}
	term := sql.OrderAsc()
	if dir == entgql.OrderDirectionDesc {
		term = sql.OrderDesc()
	}
	q.Order(sql.OrderByField(column, term).ToFunc(), sql.OrderByField(product.FieldID, term).ToFunc())
	nodes, err := q.All(ctx)
	if err != nil {
		return nil, err
	}
	conn.PageInfo.HasNextPage = page.Before != nil
	conn.PageInfo.HasPreviousPage = page.After != nil
	if limit > 0 && len(nodes) == limit+1 {
		nodes = nodes[:limit]
		if page.Last != nil {
			conn.PageInfo.HasPreviousPage = true
		} else {
			conn.PageInfo.HasNextPage = true
		}
	}
	if page.Last != nil {
		slices.Reverse(nodes)
	}
	for _, n := range nodes {
		conn.Edges = append(conn.Edges, n.ToEdge(order))
	}
	if k := len(conn.Edges); k > 0 {
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &conn.Edges[0].Cursor, &conn.Edges[k-1].Cursor
	}
	return conn, nil
}

// afterCursor keeps the rows after c in the order column dir, id dir — as Ent's pager does,
// for before cursors too — with the redundant bound column ≤ value (≥ when ascending), which
// lets MariaDB start its index range at the cursor instead of filtering from the top.
func afterCursor(column string, dir entgql.OrderDirection, c *ent.Cursor) func(*sql.Selector) {
	return func(s *sql.Selector) {
		col, id := s.C(column), s.C(product.FieldID)
		switch {
		case c.Value == nil && dir == entgql.OrderDirectionAsc:
			s.Where(sql.GT(id, c.ID))
		case c.Value == nil:
			s.Where(sql.LT(id, c.ID))
		case dir == entgql.OrderDirectionAsc:
			s.Where(sql.And(sql.GTE(col, c.Value), sql.CompositeGT([]string{col, id}, c.Value, c.ID)))
		default:
			s.Where(sql.And(sql.LTE(col, c.Value), sql.CompositeLT([]string{col, id}, c.Value, c.ID)))
		}
	}
}

// validatePage checks first and last as Ent's pager does, with the same errors.
func validatePage(p Page) error {
	var err *gqlerror.Error
	switch {
	case p.First != nil && p.Last != nil:
		return &gqlerror.Error{Message: "Passing both `first` and `last` to paginate a connection is not supported."}
	case p.First != nil && *p.First < 0:
		err = &gqlerror.Error{Message: "`first` on a connection cannot be less than zero."}
	case p.Last != nil && *p.Last < 0:
		err = &gqlerror.Error{Message: "`last` on a connection cannot be less than zero."}
	default:
		return nil
	}
	errcode.Set(err, "INVALID_PAGINATION")
	return err
}
