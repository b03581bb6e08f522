package promotions

import (
	"context"
	"github.com/xiadan/xiadan/internal/pricing"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/flashsaleitem"
	"github.com/xiadan/xiadan/ent/promotion"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/loader"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/viewer"
)

// FlashSaleView is a variant's running flash sale as customers see it.
type FlashSaleView struct {
	PromotionID int
	Label       string
	Price       *money.Money
	EndsAt      time.Time
	// Remaining is what is left of the cap.
	Remaining int
	// PerUserLimit is nil when there is none.
	PerUserLimit *int
}

// readers are the request's loaders of public promotion reads: the running promotions of
// each merchant and the running flash-sale items of each variant, one query per batch.
type readers struct {
	byMerchant *dataloader.Loader[int, []*ent.Promotion]
	byVariant  *dataloader.Loader[int, []*ent.FlashSaleItem]
}

type readersKey struct{}

func (s *Service) readers(ctx context.Context, db *ent.Client) *readers {
	return loader.Ext(ctx, readersKey{}, func(c *ent.Client, o loader.Options) *readers {
		if c == nil {
			c = db
		}
		read := func(ctx context.Context) *ent.Client {
			if tx := ent.FromContext(ctx); tx != nil {
				return tx
			}
			return c
		}
		var opts1 []dataloader.Option[int, []*ent.Promotion]
		var opts2 []dataloader.Option[int, []*ent.FlashSaleItem]
		if o.Wait > 0 {
			opts1 = append(opts1, dataloader.WithWait[int, []*ent.Promotion](o.Wait))
			opts2 = append(opts2, dataloader.WithWait[int, []*ent.FlashSaleItem](o.Wait))
		}
		if !o.Cached {
			opts1 = append(opts1, dataloader.WithCache[int, []*ent.Promotion](&dataloader.NoCache[int, []*ent.Promotion]{}))
			opts2 = append(opts2, dataloader.WithCache[int, []*ent.FlashSaleItem](&dataloader.NoCache[int, []*ent.FlashSaleItem]{}))
		}
		return &readers{
			byMerchant: dataloader.NewBatchedLoader(func(ctx context.Context, ids []int) []*dataloader.Result[[]*ent.Promotion] {
				// As the viewer: the privacy rule keeps hidden merchants' promotions out.
				ps, err := read(ctx).Promotion.Query().
					Where(promotion.MerchantIDIn(ids...), running(standing.Now(ctx))).
					Order(ent.Asc(promotion.FieldID)).All(ctx)
				by := map[int][]*ent.Promotion{}
				for _, p := range ps {
					by[p.MerchantID] = append(by[p.MerchantID], p)
				}
				out := make([]*dataloader.Result[[]*ent.Promotion], len(ids))
				for i, id := range ids {
					out[i] = &dataloader.Result[[]*ent.Promotion]{Data: by[id], Error: err}
				}
				return out
			}, opts1...),
			byVariant: dataloader.NewBatchedLoader(func(ctx context.Context, ids []int) []*dataloader.Result[[]*ent.FlashSaleItem] {
				items, err := read(ctx).FlashSaleItem.Query().
					Where(flashsaleitem.VariantIDIn(ids...),
						flashsaleitem.HasPromotionWith(running(standing.Now(ctx)), promotion.KindEQ(promotion.KindFLASH_SALE))).
					WithPromotion().Order(ent.Asc(flashsaleitem.FieldPrice), ent.Asc(flashsaleitem.FieldID)).All(ctx)
				by := map[int][]*ent.FlashSaleItem{}
				for _, it := range items {
					by[it.VariantID] = append(by[it.VariantID], it)
				}
				out := make([]*dataloader.Result[[]*ent.FlashSaleItem], len(ids))
				for i, id := range ids {
					out[i] = &dataloader.Result[[]*ent.FlashSaleItem]{Data: by[id], Error: err}
				}
				return out
			}, opts2...),
		}
	})
}

// forViewer keeps the promotions the viewer is meant to see advertised: those without
// audiences, and those of an audience the viewer belongs to.
func (s *Service) forViewer(ctx context.Context, db *ent.Client, ps []*ent.Promotion) ([]*ent.Promotion, error) {
	aud := &pricing.Audiences{Checkers: s.Audiences, UserID: viewer.FromContext(ctx).UserID}
	out := []*ent.Promotion{}
	for _, p := range ps {
		ok, err := aud.In(ctx, db, p.Audiences)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// OfMerchant is the merchant's running promotions the viewer may use, oldest first.
func (s *Service) OfMerchant(ctx context.Context, db *ent.Client, m *ent.Merchant) ([]*ent.Promotion, error) {
	ps, err := s.readers(ctx, db).byMerchant.Load(ctx, m.ID)()
	if err != nil {
		return nil, err
	}
	return s.forViewer(ctx, db, ps)
}

// OfProduct is the running full reductions and buy-N-get-M promotions the viewer may use
// that take in the product: its merchant's whole-shop ones and those naming its category
// or it. Flash sales are per variant (FlashSaleOf).
func (s *Service) OfProduct(ctx context.Context, db *ent.Client, p *ent.Product) ([]*ent.Promotion, error) {
	ps, err := s.readers(ctx, db).byMerchant.Load(ctx, p.MerchantID)()
	if err != nil {
		return nil, err
	}
	var mine []*ent.Promotion
	for _, pr := range ps {
		switch {
		case pr.Kind == promotion.KindFLASH_SALE:
			continue
		case pr.Scope == promotion.ScopeCATEGORIES && (p.CategoryID == nil || !contains(pr.CategoryIds, *p.CategoryID)):
			continue
		case pr.Scope == promotion.ScopePRODUCTS && !contains(pr.ProductIds, p.ID):
			continue
		}
		mine = append(mine, pr)
	}
	return s.forViewer(ctx, db, mine)
}

// FlashSaleOf is the variant's running flash sale the viewer may use (the lowest price
// when there are several), or nil.
func (s *Service) FlashSaleOf(ctx context.Context, db *ent.Client, v *ent.ProductVariant) (*FlashSaleView, error) {
	items, err := s.readers(ctx, db).byVariant.Load(ctx, v.ID)()
	if err != nil {
		return nil, err
	}
	aud := &pricing.Audiences{Checkers: s.Audiences, UserID: viewer.FromContext(ctx).UserID}
	for _, it := range items {
		p := it.Edges.Promotion
		if p == nil {
			continue
		}
		ok, err := aud.In(ctx, db, p.Audiences)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		out := &FlashSaleView{PromotionID: p.ID, Label: p.Label, Price: money.New(it.Price, p.Currency),
			EndsAt: p.EndsAt, Remaining: max(0, it.Cap-it.Sold)}
		if p.PerUserLimit > 0 {
			out.PerUserLimit = &p.PerUserLimit
		}
		return out, nil
	}
	return nil, nil
}

// Advertised reports whether the viewer may see promotion p when it is looked up by id
// (node, nodes): its merchant's members and admins always; anyone else only when it is
// meant for them, as in Product.promotions. The privacy rule lets everyone read running
// promotions (checkout needs them), so a promotion aimed at GOLD members or a customer
// group would otherwise show its terms to everybody who has its id.
func (s *Service) Advertised(ctx context.Context, db *ent.Client, p *ent.Promotion) (bool, error) {
	// node(id:) loads only the fields the query selects: read the two this needs.
	p, err := db.Promotion.Query().Where(promotion.ID(p.ID)).
		Select(promotion.FieldMerchantID, promotion.FieldAudiences).Only(viewer.SystemContext(ctx))
	if err != nil {
		return false, err
	}
	v := viewer.FromContext(ctx)
	if v.IsAdmin() || v.IsMerchantMember(p.MerchantID) {
		return true, nil
	}
	kept, err := s.forViewer(ctx, db, []*ent.Promotion{p})
	return len(kept) == 1, err
}
