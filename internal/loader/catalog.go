package loader

import (
	"context"
	"slices"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
)

// ProductStatus returns the status of variant v's product, or "" when the viewer may not
// see the product. It uses the eager-loaded product edge when present; otherwise the
// products of all variants resolved together are read with one query.
func (l *Loaders) ProductStatus(ctx context.Context, v *ent.ProductVariant) (product.Status, error) {
	if p := v.Edges.Product; p != nil && p.Status != "" {
		return p.Status, nil
	}
	if l == nil {
		p, err := v.QueryProduct().Select(product.FieldStatus).Only(ctx)
		if ent.IsNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		return p.Status, nil
	}
	return l.productStatus.Load(ctx, v.ProductID)()
}

// PrimeProductStatuses remembers the statuses of products already read (a list page), so
// their variants' availability costs no query. Products read without their status (a
// narrow field selection leaves it empty) are skipped.
func (l *Loaders) PrimeProductStatuses(ctx context.Context, products ...*ent.Product) {
	if l == nil {
		return
	}
	for _, p := range products {
		if p != nil && p.Status != "" {
			l.productStatus.Prime(ctx, p.ID, p.Status)
		}
	}
}

func (l *Loaders) loadProductStatuses(ctx context.Context, ids []int) []*dataloader.Result[product.Status] {
	out := make([]*dataloader.Result[product.Status], len(ids))
	products, err := l.db(ctx).Product.Query().
		Where(product.IDIn(ids...)).
		Select(product.FieldStatus).
		All(ctx)
	status := make(map[int]product.Status, len(products))
	for _, p := range products {
		status[p.ID] = p.Status
	}
	for i, id := range ids {
		out[i] = &dataloader.Result[product.Status]{Data: status[id], Error: err}
	}
	return out
}

// MerchantProductCount returns how many ACTIVE products merchant m has that the viewer
// may see; the merchants of one request are counted with one GROUP BY query.
func (l *Loaders) MerchantProductCount(ctx context.Context, m *ent.Merchant) (int, error) {
	if l == nil {
		return m.QueryProducts().Where(product.StatusEQ(product.StatusACTIVE)).Count(ctx)
	}
	return l.productCount.Load(ctx, m.ID)()
}

func (l *Loaders) loadProductCounts(ctx context.Context, ids []int) []*dataloader.Result[int] {
	var rows []struct {
		MerchantID int `sql:"merchant_id"`
		Count      int `sql:"count"`
	}
	err := l.db(ctx).Product.Query().
		Where(product.MerchantIDIn(ids...), product.StatusEQ(product.StatusACTIVE)).
		GroupBy(product.FieldMerchantID).
		Aggregate(ent.Count()).
		Scan(ctx, &rows)
	count := make(map[int]int, len(rows))
	for _, r := range rows {
		count[r.MerchantID] = r.Count
	}
	out := make([]*dataloader.Result[int], len(ids))
	for i, id := range ids {
		out[i] = &dataloader.Result[int]{Data: count[id], Error: err}
	}
	return out
}

// ShowsExactStock reports whether merchant id shows the exact stock of its variants to
// everyone (Merchant.showExactStock); the merchants of one request are read together. A
// merchant the viewer may not see shows nothing.
func (l *Loaders) ShowsExactStock(ctx context.Context, client *ent.Client, id int) (bool, error) {
	if l == nil {
		return client.Merchant.Query().Where(merchant.ID(id), merchant.ShowExactStock(true)).Exist(ctx)
	}
	return l.exactStock.Load(ctx, id)()
}

func (l *Loaders) loadExactStock(ctx context.Context, ids []int) []*dataloader.Result[bool] {
	shown, err := l.db(ctx).Merchant.Query().
		Where(merchant.IDIn(ids...), merchant.ShowExactStock(true)).
		IDs(ctx)
	out := make([]*dataloader.Result[bool], len(ids))
	for i, id := range ids {
		out[i] = &dataloader.Result[bool]{Data: slices.Contains(shown, id), Error: err}
	}
	return out
}
