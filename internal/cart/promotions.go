package cart

import (
	"context"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/pricing"
)

// Promotions is what the promotion providers take off a cart, quoted as placeOrder would
// for the same lines and choice.
type Promotions struct {
	// Basket is the quote; its lines are the cart's buyable lines, oldest group first.
	Basket *pricing.Basket
	// Index maps a cart line id to its line in Basket.
	Index map[int]int
}

// LineDiscount is what the promotions take off cart line id (0 for a line with a problem).
func (p *Promotions) LineDiscount(id int) int64 {
	if p == nil {
		return 0
	}
	if i, ok := p.Index[id]; ok {
		return p.Basket.Lines[i].Discount
	}
	return 0
}

// LoadQuoted is Load with the promotions of providers applied for choice, judged at now.
func LoadQuoted(ctx context.Context, db *ent.Client, userID int, providers []pricing.Provider, choice pricing.Choice, now time.Time) (*Cart, error) {
	c, err := Load(ctx, db, userID)
	if err != nil {
		return nil, err
	}
	if err := c.Quote(ctx, db, userID, providers, choice, now); err != nil {
		return nil, err
	}
	return c, nil
}

// Quote runs the promotion providers over the cart's buyable lines and updates every
// discount and total. A cart in several currencies is quoted in the first group's only.
func (c *Cart) Quote(ctx context.Context, db *ent.Client, userID int, providers []pricing.Provider, choice pricing.Choice, now time.Time) error {
	p := &Promotions{Index: map[int]int{}}
	var lines []*pricing.Line
	shipping := map[int]int64{}
	for _, g := range c.Merchants {
		if g.Subtotal.Currency != c.Subtotal.Currency {
			continue
		}
		// Oldest line first, as placeOrder reads a cart.
		for i := len(g.Lines) - 1; i >= 0; i-- {
			l := g.Lines[i]
			s := Assess(l)
			if !s.Buyable() {
				continue
			}
			p.Index[l.ID] = len(lines)
			lines = append(lines, pricing.LineOf(s.Variant, s.Product, g.Merchant.ID, l.Quantity))
		}
		shipping[g.Merchant.ID] = g.ShippingFee.Minor
	}
	p.Basket = pricing.NewBasket(userID, c.Subtotal.Currency, now, lines, shipping)
	p.Basket.Choice = choice
	if len(lines) > 0 && len(providers) > 0 {
		if err := pricing.Run(ctx, db, p.Basket, providers); err != nil {
			return err
		}
	}
	c.Promotions = p
	for _, g := range c.Merchants {
		g.quote = p
	}
	cur := c.Subtotal.Currency
	c.Discount = money.Money{Currency: cur}
	c.ShippingDiscount = money.Money{Currency: cur}
	for _, g := range c.Merchants {
		g.Discount = money.Money{Currency: g.Subtotal.Currency}
		g.ShippingDiscount = money.Money{Currency: g.Subtotal.Currency}
		if g.Subtotal.Currency != cur {
			continue
		}
		t := p.Basket.TotalsOf(g.Merchant.ID)
		g.Discount.Minor, g.ShippingDiscount.Minor = t.Discount, t.ShippingDiscount
		g.Total.Minor = g.Subtotal.Minor - t.Discount + g.ShippingFee.Minor - t.ShippingDiscount
		c.Discount.Minor += t.Discount
		c.ShippingDiscount.Minor += t.ShippingDiscount
	}
	c.Total.Minor = c.Subtotal.Minor - c.Discount.Minor + c.ShippingFee.Minor - c.ShippingDiscount.Minor
	return nil
}

// AdjustmentView is one promotion as the cart shows it, for one merchant group or the
// whole cart.
type AdjustmentView struct {
	Kind             pricing.Kind
	Label            string
	FundedBy         pricing.Funder
	SourceID         int
	Amount           money.Money
	ShippingDiscount money.Money
}

// Adjustments returns the promotions on merchant's lines (every merchant's for 0).
func (p *Promotions) Adjustments(merchant int) []*AdjustmentView {
	out := []*AdjustmentView{}
	if p == nil {
		return out
	}
	b := p.Basket
	for _, a := range b.Adjustments {
		var amt, ship int64
		for i, x := range a.Lines {
			if merchant == 0 || b.Lines[i].MerchantID == merchant {
				amt += x
			}
		}
		for m, x := range a.Shipping {
			if merchant == 0 || m == merchant {
				ship += x
			}
		}
		if amt == 0 && ship == 0 {
			continue
		}
		out = append(out, &AdjustmentView{Kind: a.Kind, Label: a.Label, FundedBy: a.FundedBy, SourceID: a.SourceID,
			Amount: money.Money{Minor: amt, Currency: b.Currency}, ShippingDiscount: money.Money{Minor: ship, Currency: b.Currency}})
	}
	return out
}

// Basket is the cart's quote (nil for a cart not quoted).
func (c *Cart) Basket() *pricing.Basket {
	if c == nil || c.Promotions == nil {
		return nil
	}
	return c.Promotions.Basket
}

// Adjustments are the promotions on the group's lines and shipping.
func (g *Group) Adjustments() []*AdjustmentView { return g.quote.Adjustments(g.Merchant.ID) }
