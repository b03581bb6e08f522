package cart

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/cartline"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/privacy"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Field paths in errors name the mutation's arguments as the client spelled them
// (`variantID`, `quantity`, `lineID`); address fields are relative to the `input`
// argument (`phone`, `postalCode`), like the catalog's.

const (
	// MaxQuantity is the most units of one variant a cart line holds.
	MaxQuantity = 999
	// MaxLines is the most lines a cart holds.
	MaxLines = 100
	// DefaultCurrency is the currency of an empty cart's totals.
	DefaultCurrency = "CNY"
)

// Problem says why a cart line cannot be bought as it is; "" when it can.
type Problem string

// The problems a line can have, most serious first.
const (
	Unavailable       Problem = "UNAVAILABLE"
	OutOfStock        Problem = "OUT_OF_STOCK"
	InsufficientStock Problem = "INSUFFICIENT_STOCK"
)

// LineState is a cart line priced and checked now.
type LineState struct {
	// Variant, Product and Merchant are nil when the variant was deleted.
	Variant  *ent.ProductVariant
	Product  *ent.Product
	Merchant *ent.Merchant
	// UnitPrice is the variant's current price; LineTotal is it times the quantity.
	UnitPrice, LineTotal money.Money
	// Available is the variant's stock now.
	Available int
	// Problem is "" when the line can be bought as it is; Message then is "" too.
	Problem Problem
	Message string
}

// Buyable reports whether the line can be bought as it is.
func (s LineState) Buyable() bool { return s.Problem == "" }

// Physical reports whether the line's goods ship.
func (s LineState) Physical() bool { return s.Product != nil && s.Product.Kind == product.KindPHYSICAL }

// Assess prices and checks a line whose variant, product and merchant are loaded (as Load
// and LinesForCheckout leave them). Stock applies to every kind of product: virtual codes
// and service slots run out too.
func Assess(l *ent.CartLine) LineState {
	var s LineState
	s.Variant, _ = l.Edges.VariantOrErr()
	if s.Variant != nil {
		s.Product, _ = s.Variant.Edges.ProductOrErr()
	}
	if s.Product != nil {
		s.Merchant, _ = s.Product.Edges.MerchantOrErr()
	}
	if s.Variant == nil || s.Product == nil || s.Merchant == nil {
		s.UnitPrice = money.Money{Currency: DefaultCurrency}
		s.LineTotal = s.UnitPrice
		s.Problem, s.Message = Unavailable, "This item is no longer sold."
		return s
	}
	v := s.Variant
	s.UnitPrice = money.Money{Minor: v.Price, Currency: v.Currency}
	s.LineTotal = money.Money{Minor: v.Price * int64(l.Quantity), Currency: v.Currency}
	s.Available = v.Stock
	switch {
	case s.Product.Status != product.StatusACTIVE:
		s.Problem, s.Message = Unavailable, "This product is no longer on sale."
	case s.Merchant.Status != merchant.StatusACTIVE || !standing.IsOpen(s.Merchant, time.Now()):
		// Suspended or removed by the platform (internal/credit): no orders.
		s.Problem, s.Message = Unavailable, "This shop is not taking orders at the moment."
	case v.Currency != s.Merchant.Currency:
		// The group's totals and shipping are in the merchant's currency; a line priced in
		// another one cannot be added to them, and could not be paid with them either.
		s.Problem, s.Message = Unavailable, fmt.Sprintf("This item is priced in %s, which the shop does not take.", v.Currency)
	case v.Stock == 0:
		s.Problem, s.Message = OutOfStock, "Sold out."
	case l.Quantity > v.Stock:
		s.Problem, s.Message = InsufficientStock, fmt.Sprintf("Only %d left; lower the quantity to buy it.", v.Stock)
	}
	return s
}

// State is Assess for a line reached outside Load (such as through node(id:)): it uses the
// loaded variant when there is one, and otherwise reads it, bypassing privacy so a delisted
// product still shows. Callers must have read the line itself under the viewer's privacy.
func State(ctx context.Context, db *ent.Client, l *ent.CartLine) (LineState, error) {
	if _, err := l.Edges.VariantOrErr(); !ent.IsNotLoaded(err) {
		return Assess(l), nil
	}
	v, err := db.ProductVariant.Query().
		Where(productvariant.ID(l.VariantID)).
		WithProduct(func(q *ent.ProductQuery) { q.WithMerchant() }).
		Only(viewer.SystemContext(ctx))
	if err != nil && !ent.IsNotFound(err) {
		return LineState{}, err
	}
	// A copy, so lines shared between concurrently resolved fields are never written.
	c := *l
	c.Edges.Variant = v
	return Assess(&c), nil
}

// ShippingFee is what merchant m charges to ship an order whose goods cost subtotal: its
// flat fee, or nothing from its free-shipping threshold (a threshold of 0 never applies).
// Orders with nothing to ship (physical false, or nothing bought) ship free.
func ShippingFee(m *ent.Merchant, subtotal int64, physical bool) int64 {
	switch {
	case !physical, subtotal <= 0:
		return 0
	case m.FreeShippingThreshold > 0 && subtotal >= m.FreeShippingThreshold:
		return 0
	}
	return m.ShippingFlatFee
}

// Load reads userID's cart, newest line first, with every line's variant, product and
// merchant — even delisted ones — in a constant number of statements, and prices it.
//
// The cart's Subtotal, ShippingFee and Total sum the groups priced in the currency of the
// first group (the oldest); should a cart ever mix currencies, the groups in other
// currencies are left out of them, while each group's own totals stay right.
func Load(ctx context.Context, db *ent.Client, userID int) (*Cart, error) {
	lines, err := loadLines(ctx, db, userID, nil)
	if err != nil {
		return nil, err
	}
	return price(lines), nil
}

// loadLines reads userID's lines (only those in ids, when given), newest first, with their
// variant, product and merchant. The owner is fixed by the query itself, so the edges can
// be read with privacy bypassed: a delisted product must still show in its buyer's cart.
func loadLines(ctx context.Context, db *ent.Client, userID int, ids []int) ([]*ent.CartLine, error) {
	if userID == 0 {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to use a cart")
	}
	q := db.CartLine.Query().Where(cartline.UserID(userID))
	if len(ids) > 0 {
		q.Where(cartline.IDIn(ids...))
	}
	return q.
		WithVariant(func(q *ent.ProductVariantQuery) {
			q.WithProduct(func(q *ent.ProductQuery) { q.WithMerchant() })
		}).
		Order(cartline.ByCreatedAt(sql.OrderDesc()), cartline.ByID(sql.OrderDesc())).
		All(viewer.SystemContext(ctx))
}

// price groups lines (newest first) by merchant and computes every total.
func price(lines []*ent.CartLine) *Cart {
	c := &Cart{Lines: lines, Merchants: []*Group{}}
	groups := map[int]*Group{}
	physical := map[*Group]bool{} // has a buyable line that ships
	allBuyable := true
	// Oldest first, so groups come in the order their first line was added.
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		c.Quantity += l.Quantity
		s := Assess(l)
		if !s.Buyable() {
			allBuyable = false
		}
		if s.Merchant == nil {
			continue // a deleted variant belongs to no merchant any more
		}
		g, ok := groups[s.Merchant.ID]
		if !ok {
			g = &Group{Merchant: s.Merchant}
			g.Subtotal.Currency = s.Merchant.Currency
			groups[s.Merchant.ID] = g
			c.Merchants = append(c.Merchants, g)
		}
		g.Lines = append(g.Lines, l)
		if s.Buyable() {
			g.Subtotal.Minor += s.LineTotal.Minor
			physical[g] = physical[g] || s.Physical()
		}
	}
	c.Subtotal.Currency = DefaultCurrency
	if len(c.Merchants) > 0 {
		c.Subtotal.Currency = c.Merchants[0].Subtotal.Currency
	}
	c.ShippingFee.Currency, c.Total.Currency = c.Subtotal.Currency, c.Subtotal.Currency
	c.Discount.Currency, c.ShippingDiscount.Currency = c.Subtotal.Currency, c.Subtotal.Currency
	for _, g := range c.Merchants {
		slices.Reverse(g.Lines) // newest first, like the cart's lines
		cur := g.Subtotal.Currency
		g.Discount.Currency, g.ShippingDiscount.Currency = cur, cur
		g.ShippingFee = money.Money{Minor: ShippingFee(g.Merchant, g.Subtotal.Minor, physical[g]), Currency: cur}
		g.Total = money.Money{Minor: g.Subtotal.Minor + g.ShippingFee.Minor, Currency: cur}
		if cur == c.Subtotal.Currency {
			c.Subtotal.Minor += g.Subtotal.Minor
			c.ShippingFee.Minor += g.ShippingFee.Minor
			c.Total.Minor += g.Total.Minor
		}
	}
	c.Ready = len(lines) > 0 && allBuyable
	return c
}

// AddToCart adds quantity units of a variant on sale to userID's cart, to the line already
// holding it if there is one, and returns the cart. The resulting quantity may not exceed
// MaxQuantity or the stock. Call it in a transaction.
func AddToCart(ctx context.Context, db *ent.Client, userID, variantID, quantity int) (*Cart, error) {
	if quantity < 1 || quantity > MaxQuantity {
		return nil, apperror.BadInput("quantity", "must be between 1 and %d", MaxQuantity)
	}
	if err := lockUser(ctx, db, userID); err != nil {
		return nil, err
	}
	v, err := db.ProductVariant.Query().
		Where(productvariant.ID(variantID)).
		WithProduct(func(q *ent.ProductQuery) { q.WithMerchant() }).
		Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, variantNotFound()
	}
	if err != nil {
		return nil, err
	}
	if !onSale(ctx, v) {
		// What the public cannot see does not exist for it.
		return nil, variantNotFound()
	}
	p := v.Edges.Product
	if v.Currency != p.Edges.Merchant.Currency {
		return nil, apperror.BadInput("variantID", "is priced in %s, which the shop does not take", v.Currency)
	}
	existing, err := db.CartLine.Query().
		Where(cartline.UserID(userID), cartline.VariantID(variantID)).
		Only(ctx)
	switch {
	case ent.IsNotFound(err):
		n, err := db.CartLine.Query().Where(cartline.UserID(userID)).Count(ctx)
		if err != nil {
			return nil, err
		}
		if n >= MaxLines {
			return nil, apperror.BadInput("variantID", "the cart holds at most %d lines; remove some first", MaxLines)
		}
	case err != nil:
		return nil, err
	}
	total := quantity
	if existing != nil {
		total += existing.Quantity
	}
	if total > MaxQuantity {
		return nil, apperror.BadInput("quantity", "a cart line holds at most %d units (%d already in the cart)",
			MaxQuantity, existing.Quantity)
	}
	if err := checkStock(total, v.Stock); err != nil {
		return nil, err
	}
	// An upsert, so two adds racing past the look-up above still make one line.
	err = db.CartLine.Create().
		SetUserID(userID).
		SetVariantID(variantID).
		SetQuantity(quantity).
		OnConflictColumns(cartline.FieldUserID, cartline.FieldVariantID).
		AddQuantity(quantity).
		UpdateUpdatedAt().
		Exec(ctx)
	if err != nil {
		return nil, err
	}
	return Load(ctx, db, userID)
}

// UpdateCartLine sets the quantity of one of userID's lines (0 removes it) and returns the
// cart. Raising it above the stock is refused; lowering it is always allowed.
func UpdateCartLine(ctx context.Context, db *ent.Client, userID, lineID, quantity int) (*Cart, error) {
	if quantity < 0 || quantity > MaxQuantity {
		return nil, apperror.BadInput("quantity", "must be between 0 and %d", MaxQuantity)
	}
	if quantity == 0 {
		return RemoveCartLine(ctx, db, userID, lineID)
	}
	l, err := ownLine(ctx, db, userID, lineID)
	if err != nil {
		return nil, err
	}
	if quantity > l.Quantity {
		v, err := db.ProductVariant.Query().
			Where(productvariant.ID(l.VariantID)).
			WithProduct(func(q *ent.ProductQuery) { q.WithMerchant() }).
			Only(viewer.SystemContext(ctx))
		if err != nil && !ent.IsNotFound(err) {
			return nil, err
		}
		if v == nil || !onSale(ctx, v) {
			// No more of what is not on sale, and nothing about its stock either: the
			// product is hidden now (the cart shows the line as UNAVAILABLE).
			e := apperror.ConflictOn("lineID", "this item is not on sale; remove it from the cart")
			e.Extensions = map[string]any{"reason": string(Unavailable)}
			return nil, e
		}
		if err := checkStock(quantity, v.Stock); err != nil {
			return nil, err
		}
	}
	if err := db.CartLine.UpdateOne(l).SetQuantity(quantity).Exec(ctx); err != nil {
		return nil, err
	}
	return Load(ctx, db, userID)
}

// RemoveCartLine removes one of userID's lines and returns the cart.
func RemoveCartLine(ctx context.Context, db *ent.Client, userID, lineID int) (*Cart, error) {
	if userID == 0 {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to use a cart")
	}
	n, err := db.CartLine.Delete().Where(cartline.ID(lineID), cartline.UserID(userID)).Exec(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, lineNotFound()
	}
	return Load(ctx, db, userID)
}

// Clear empties userID's cart and returns it.
func Clear(ctx context.Context, db *ent.Client, userID int) (*Cart, error) {
	if userID == 0 {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to use a cart")
	}
	if _, err := db.CartLine.Delete().Where(cartline.UserID(userID)).Exec(ctx); err != nil {
		return nil, err
	}
	return Load(ctx, db, userID)
}

// LinesForCheckout returns userID's cart lines to be ordered, newest first, with variant,
// product and merchant loaded for Assess: the lines given by id, or every line when lineIDs
// is empty. An id that is not one of userID's lines is NOT_FOUND on field cartLineIDs.
func LinesForCheckout(ctx context.Context, db *ent.Client, userID int, lineIDs []int) ([]*ent.CartLine, error) {
	ids := slices.Clone(lineIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	lines, err := loadLines(ctx, db, userID, ids)
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 && len(lines) != len(ids) {
		for _, id := range lineIDs {
			if !slices.ContainsFunc(lines, func(l *ent.CartLine) bool { return l.ID == id }) {
				return nil, &apperror.Error{Code: apperror.NotFound, Field: "cartLineIDs",
					Message: fmt.Sprintf("cart line %d is not in your cart", id)}
			}
		}
	}
	return lines, nil
}

// RemoveLines removes the given lines of userID's cart, such as those just ordered; ids of
// lines that are gone already are ignored.
func RemoveLines(ctx context.Context, db *ent.Client, userID int, lineIDs []int) error {
	if len(lineIDs) == 0 {
		return nil
	}
	_, err := db.CartLine.Delete().Where(cartline.UserID(userID), cartline.IDIn(lineIDs...)).Exec(ctx)
	return err
}

// ownLine reads one of userID's lines.
func ownLine(ctx context.Context, db *ent.Client, userID, lineID int) (*ent.CartLine, error) {
	if userID == 0 {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to use a cart")
	}
	l, err := db.CartLine.Query().Where(cartline.ID(lineID), cartline.UserID(userID)).Only(ctx)
	if ent.IsNotFound(err) || errors.Is(err, privacy.Deny) {
		return nil, lineNotFound()
	}
	return l, err
}

// checkStock refuses a line quantity above the stock.
func checkStock(quantity, stock int) error {
	if quantity <= stock {
		return nil
	}
	e := apperror.BadInput("quantity", "only %d in stock", stock)
	if stock == 0 {
		e = apperror.BadInput("quantity", "sold out")
	}
	e.Extensions = map[string]any{"available": stock}
	return e
}

// lockUser serialises userID's cart and address-book changes on MySQL, so limits and the
// single default address hold under concurrent requests. SQLite transactions take the
// write lock when they begin and need nothing more. Call it in a transaction.
func lockUser(ctx context.Context, db *ent.Client, userID int) error {
	if userID == 0 {
		return apperror.New(apperror.Unauthenticated, "sign in to do this")
	}
	_, err := db.User.Query().
		Where(user.ID(userID), func(s *sql.Selector) {
			if s.Dialect() == dialect.MySQL {
				s.ForUpdate()
			}
		}).
		IDs(privacy.DecisionContext(ctx, privacy.Allow))
	return err
}

// onSale reports whether variant v, read with its product and merchant, is one the public
// sees: its product ACTIVE, of an ACTIVE merchant neither suspended nor removed.
func onSale(ctx context.Context, v *ent.ProductVariant) bool {
	p := v.Edges.Product
	return p != nil && p.Status == product.StatusACTIVE && p.Edges.Merchant != nil &&
		p.Edges.Merchant.Status == merchant.StatusACTIVE && standing.IsOpen(p.Edges.Merchant, standing.Now(ctx))
}

func variantNotFound() error {
	return &apperror.Error{Code: apperror.NotFound, Field: "variantID", Message: "no such variant on sale"}
}

func lineNotFound() error {
	return &apperror.Error{Code: apperror.NotFound, Field: "lineID", Message: "no such line in your cart"}
}
