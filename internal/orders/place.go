package orders

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/cartline"
	"github.com/xiadan/xiadan/ent/checkout"
	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/order"
	"github.com/xiadan/xiadan/ent/orderevent"
	"github.com/xiadan/xiadan/ent/orderitem"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/productvariant"
	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/ent/stockmovement"
	"github.com/xiadan/xiadan/internal/analytics/channel"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/cart"
	"github.com/xiadan/xiadan/internal/catalog/hooks"
	"github.com/xiadan/xiadan/internal/credit/standing"
	"github.com/xiadan/xiadan/internal/database"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/pricing"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Limits of one checkout.
const (
	MaxLines    = 50
	MaxQuantity = 999
	MaxNote     = 500
)

var idempotencyKeyPattern = regexp.MustCompile(`^[\x21-\x7e]{8,128}$`)

// line is one priced line of a checkout.
type line struct {
	field    string // how the caller named it, for errors: lines[2] or cartLineIDs[0]
	variant  *ent.ProductVariant
	quantity int
	expected *string
	index    int // in the promotions basket
}

// group is the lines of one merchant: one order.
type group struct {
	merchant   *ent.Merchant
	lines      []*line
	subtotal   int64
	shipping   int64
	fulfilment order.Fulfilment
}

// Place validates a checkout and, in db's transaction, creates one order per merchant
// under one checkout, reserves the stock, applies the promotions and records the orders'
// first events.
//
// The same idempotency key with the same input returns the first result, with a different
// input CONFLICT; of concurrent duplicates one places the orders and the others return
// them. Nothing is written unless everything is valid and every line is in stock.
//
// Promotions (s.Promotions, internal/pricing) are quoted over the priced lines exactly as
// the cart quotes them, for the coupons chosen in the input (CouponIDs nil: the best
// ones); each order carries its share: discount (goods), shipping_discount, one
// OrderAdjustment per promotion, and each item its allocated discount, so total =
// subtotal - discount + shipping_fee - shipping_discount and expectedTotal is compared
// with that. The providers Commit what they used (coupon uses, flash-sale stock) with
// conditional writes after the stock is reserved and the orders exist, in this
// transaction: a coupon used meanwhile by another checkout is CONFLICT and nothing is
// placed. Locks are taken in one order by every checkout: the checkout row (idempotency
// key), the products in id order, the variants, then the promotions' rows (each
// provider's in stage order, ids ascending within one).
func (s *Service) Place(ctx context.Context, db *ent.Client, in PlaceInput) (*Placed, error) {
	v := viewer.FromContext(ctx)
	if v.UserID == 0 {
		return nil, apperror.New(apperror.Unauthenticated, "sign in to place an order")
	}
	if !idempotencyKeyPattern.MatchString(in.IdempotencyKey) {
		return nil, apperror.BadInput("idempotencyKey", "must be 8 to 128 printable ASCII characters without spaces")
	}
	hash := requestHash(in)
	sctx := system(ctx)

	// A retry returns what the first call placed.
	if co, err := db.Checkout.Query().
		Where(checkout.CustomerID(v.UserID), checkout.IdempotencyKey(in.IdempotencyKey)).
		Only(sctx); err == nil {
		return s.replay(sctx, db, co, hash, false)
	} else if !ent.IsNotFound(err) {
		return nil, err
	}

	lines, cartLineIDs, err := s.readLines(ctx, db, v.UserID, in)
	if err != nil {
		return s.decidedMeanwhile(sctx, db, v.UserID, in.IdempotencyKey, hash, err)
	}
	groups, currency, err := priceLines(ctx, db, lines)
	if err != nil {
		return s.decidedMeanwhile(sctx, db, v.UserID, in.IdempotencyKey, hash, err)
	}
	physical := false
	for _, g := range groups {
		physical = physical || g.fulfilment == order.FulfilmentPHYSICAL
	}
	address, contact, err := s.readAddress(ctx, db, in, physical)
	if err != nil {
		return s.decidedMeanwhile(sctx, db, v.UserID, in.IdempotencyKey, hash, err)
	}
	note := ""
	if in.Note != nil {
		note = strings.TrimSpace(*in.Note)
		if len([]rune(note)) > MaxNote {
			return nil, apperror.BadInput("note", "must be at most %d characters", MaxNote)
		}
	}
	if s.Risk != nil {
		var shipTo *schematype.Address
		if physical {
			shipTo = &address
		}
		if err := s.Risk.CheckPlace(ctx, db, v.UserID, contact.Phone, shipTo); err != nil {
			return nil, err
		}
	}
	basket, err := s.quote(ctx, db, v.UserID, currency, groups, in.choice())
	if err != nil {
		return s.decidedMeanwhile(sctx, db, v.UserID, in.IdempotencyKey, hash, err)
	}
	total := basket.TotalsOf(0).Total
	if in.ExpectedTotal != nil {
		want, err := money.ParseAmount(*in.ExpectedTotal, currency)
		if err != nil {
			// Read in the settlement currency only: a converted (indicative) price never pays.
			return nil, apperror.BadInput("expectedTotal", "is not an amount in %s, the currency the order is charged in: %v", currency, err)
		}
		if want != total {
			e := apperror.ConflictOn("expectedTotal", "the total is now %s, not %s",
				money.Money{Minor: total, Currency: currency}.Formatted(), money.Money{Minor: want, Currency: currency}.Formatted())
			e.Extensions = map[string]any{"reason": "TOTAL_CHANGED", "total": money.Money{Minor: total, Currency: currency}.Amount()}
			return s.decidedMeanwhile(sctx, db, v.UserID, in.IdempotencyKey, hash, e)
		}
	}

	now := stamp(s.now())
	deadline := now.Add(s.PaymentTimeout)
	// A checkout's public id: 130 random bits (crypto/rand.Text, base32).
	token := "co_" + strings.ToLower(rand.Text())
	// The checkout row claims the idempotency key before anything else is written: a
	// concurrent duplicate waits on the unique index here and then returns our orders.
	co, err := db.Checkout.Create().
		SetToken(token).
		SetCustomerID(v.UserID).
		SetIdempotencyKey(in.IdempotencyKey).
		SetRequestHash(hash).
		SetCurrency(currency).
		SetTotal(total).
		SetCreatedAt(now).
		Save(sctx)
	if ent.IsConstraintError(err) {
		return s.lostTheKey(sctx, db, v.UserID, in.IdempotencyKey, hash)
	}
	if err != nil {
		return nil, err
	}

	// Stock first: lock the products (in id order), then reserve with conditional
	// decrements. This comes before inserting any row that references a product or
	// variant: on MySQL those inserts take shared locks on the referenced rows for their
	// foreign-key checks, and concurrent checkouts upgrading those to exclusive locks
	// would deadlock.
	var (
		changes []stockChange
		pids    []int
	)
	for gi, g := range groups {
		merged := map[int]int{} // variant → index in changes
		for _, l := range g.lines {
			pv := l.variant
			if j, ok := merged[pv.ID]; ok {
				changes[j].delta -= l.quantity
				continue
			}
			merged[pv.ID] = len(changes)
			changes = append(changes, stockChange{variantID: pv.ID, productID: pv.ProductID, merchantID: g.merchant.ID,
				delta: -l.quantity, field: l.field, group: gi})
			pids = append(pids, pv.ProductID)
		}
	}
	if err := hooks.LockProducts(ctx, db, pids...); err != nil {
		return nil, err
	}
	after, err := changeStock(ctx, db, changes, now)
	if err != nil {
		return nil, err
	}

	creates := make([]*ent.OrderCreate, len(groups))
	for i, g := range groups {
		sums := basket.TotalsOf(g.merchant.ID)
		number, err := orderNumber(now)
		if err != nil {
			return nil, err
		}
		oc := db.Order.Create().
			SetNumber(number).
			SetCheckoutID(co.Token).
			SetCustomerID(v.UserID).
			SetMerchantID(g.merchant.ID).
			SetCurrency(currency).
			SetSubtotal(g.subtotal).
			SetShippingFee(g.shipping).
			SetDiscount(sums.Discount).
			SetShippingDiscount(sums.ShippingDiscount).
			SetTotal(sums.Total).
			SetContactName(contact.Name).
			SetContactPhone(contact.Phone).
			SetNote(note).
			SetFulfilment(g.fulfilment).
			SetPaymentDeadline(deadline).
			SetChannel(order.Channel(channel.FromContext(ctx))).
			SetCreatedAt(now).
			SetUpdatedAt(now)
		if g.fulfilment == order.FulfilmentPHYSICAL {
			a := address
			oc.SetShippingAddress(&a)
		}
		creates[i] = oc
	}
	placed, err := db.Order.CreateBulk(creates...).Save(sctx)
	if err != nil {
		return nil, err
	}

	var (
		items  []*ent.OrderItemCreate
		events []*ent.OrderEventCreate
	)
	actor := Actor{UserID: v.UserID, Role: orderevent.ActorRoleCUSTOMER}
	for i, g := range groups {
		o := placed[i]
		for _, l := range g.lines {
			pv := l.variant
			p := pv.Edges.Product
			items = append(items, db.OrderItem.Create().
				SetOrderID(o.ID).
				SetProductID(p.ID).
				SetVariantID(pv.ID).
				SetTitle(p.Title).
				SetSku(pv.Sku).
				SetOptions(pv.Options).
				SetKind(orderitem.Kind(p.Kind)).
				SetUnitPrice(pv.Price).
				SetCurrency(currency).
				SetQuantity(l.quantity).
				SetLineTotal(pv.Price*int64(l.quantity)).
				SetDiscount(basket.Lines[l.index].Discount))
		}
		events = append(events, recordEvent(db, o, orderevent.TypeCREATED, "", order.StatusPENDING_PAYMENT, actor, "", now))
	}
	saved, err := db.OrderItem.CreateBulk(items...).Save(sctx)
	if err != nil {
		return nil, err
	}
	if len(s.Promotions) > 0 {
		// Record each order's share of the promotions, then let the providers claim what
		// they used (a provider that changes no price, such as attribution, commits too).
		byMerchant := make(map[int]*ent.Order, len(placed))
		orderIDs := make(map[int]int, len(placed))
		for _, o := range placed {
			byMerchant[o.MerchantID], orderIDs[o.MerchantID] = o, o.ID
		}
		itemIDs := make([]int, len(saved)) // items were created in basket line order
		for i, it := range saved {
			itemIDs[i] = it.ID
		}
		if rows := adjustmentRows(db, basket, byMerchant, itemIDs); len(rows) > 0 {
			if err := db.OrderAdjustment.CreateBulk(rows...).Exec(sctx); err != nil {
				return nil, err
			}
		}
		if err := pricing.Commit(ctx, db, basket, s.Promotions, orderIDs); err != nil {
			return nil, err
		}
	}
	if s.Risk != nil {
		if err := s.Risk.Placed(ctx, db, placed); err != nil {
			return nil, err
		}
	}
	for i := range changes {
		changes[i].orderID = placed[changes[i].group].ID
	}
	if err := writeLedger(ctx, db, changes, after, stockmovement.KindORDER_RESERVED, v.UserID, "checkout "+co.Token, now); err != nil {
		return nil, err
	}
	if err := db.OrderEvent.CreateBulk(events...).Exec(sctx); err != nil {
		return nil, err
	}
	if len(cartLineIDs) > 0 {
		if _, err := db.CartLine.Delete().Where(cartline.IDIn(cartLineIDs...)).Exec(sctx); err != nil {
			return nil, err
		}
	}
	return &Placed{CheckoutID: co.Token, Orders: placed, Total: money.Money{Minor: total, Currency: currency}, PaymentDeadline: deadline}, nil
}

// decidedMeanwhile answers a retry whose first attempt committed while this one was
// validating: the coupons, red packets or stock it spent now make the same input look
// invalid (on MySQL READ COMMITTED every read sees them). For a client error it looks for
// the key's checkout with a locking read, which sees the latest committed row under any
// isolation level, and replays it; otherwise, or when there is none, it returns err.
func (s *Service) decidedMeanwhile(ctx context.Context, db *ent.Client, userID int, key, hash string, err error) (*Placed, error) {
	if c := apperror.CodeOf(err); c == "" || c == apperror.Internal {
		return nil, err
	}
	p, rerr := s.lostTheKey(ctx, db, userID, key, hash)
	if ent.IsNotFound(rerr) {
		return nil, err
	}
	return p, rerr
}

// lostTheKey answers a call whose idempotency key another transaction has used: with
// that checkout's orders. Those rows were committed after this transaction's snapshot (on
// MySQL REPEATABLE READ), and the field resolvers that follow read the orders' merchant,
// items and adjustments with plain reads; so the transaction, which has written nothing
// yet, takes a fresh snapshot first (database.FreshSnapshot). Where it cannot (an earlier
// field of the operation wrote), the checkout and orders are read with locking reads,
// which see the latest rows, and edges read later may still be stale.
func (s *Service) lostTheKey(ctx context.Context, db *ent.Client, userID int, key, hash string) (*Placed, error) {
	fresh := database.FreshSnapshot(ctx) == nil
	q := db.Checkout.Query().Where(checkout.CustomerID(userID), checkout.IdempotencyKey(key))
	if !fresh {
		q.Where(hooks.ShareRows)
	}
	first, err := q.Only(ctx)
	if err != nil {
		return nil, err
	}
	return s.replay(ctx, db, first, hash, !fresh)
}

// replay returns the orders a checkout placed, for a retry with its idempotency key.
// locking reads the orders with a locking read: a transaction that lost the race for the
// key on MySQL must see rows committed after its snapshot was taken.
func (s *Service) replay(ctx context.Context, db *ent.Client, co *ent.Checkout, hash string, locking bool) (*Placed, error) {
	if co.RequestHash != hash {
		return nil, apperror.ConflictOn("idempotencyKey", "this idempotency key was used for a different order; use a new key for a new purchase")
	}
	q := db.Order.Query().Where(order.CheckoutID(co.Token)).Order(order.ByID())
	if locking {
		q.Where(hooks.ShareRows)
	}
	placed, err := q.All(ctx)
	if err != nil {
		return nil, err
	}
	return &Placed{
		CheckoutID:      co.Token,
		Orders:          placed,
		Total:           money.Money{Minor: co.Total, Currency: co.Currency},
		PaymentDeadline: co.CreatedAt.Add(s.PaymentTimeout).UTC(),
	}, nil
}

// readLines returns the lines to buy, from the input or the caller's cart, with the
// cart line ids to remove after placing.
func (s *Service) readLines(ctx context.Context, db *ent.Client, userID int, in PlaceInput) ([]*line, []int, error) {
	fromCart := in.FromCart != nil && *in.FromCart
	switch {
	case fromCart && len(in.Lines) > 0:
		return nil, nil, apperror.BadInput("lines", "give lines or fromCart, not both")
	case !fromCart && len(in.CartLineIDs) > 0:
		return nil, nil, apperror.BadInput("cartLineIDs", "needs fromCart: true")
	case !fromCart && len(in.Lines) == 0:
		return nil, nil, apperror.BadInput("lines", "give at least one line, or fromCart: true")
	}
	var lines []*line
	var ids []int
	if fromCart {
		q := db.CartLine.Query().Where(cartline.UserID(userID)).Order(cartline.ByID())
		if len(in.CartLineIDs) > 0 {
			q.Where(cartline.IDIn(in.CartLineIDs...))
		}
		cls, err := q.All(ctx)
		if err != nil {
			return nil, nil, err
		}
		if len(in.CartLineIDs) > 0 && len(cls) != len(uniqueInts(in.CartLineIDs)) {
			return nil, nil, apperror.BadInput("cartLineIDs", "names lines that are not in your cart")
		}
		if len(cls) == 0 {
			return nil, nil, apperror.BadInput("fromCart", "your cart is empty")
		}
		for i, cl := range cls {
			lines = append(lines, &line{field: fmt.Sprintf("cartLineIDs[%d]", i), variant: &ent.ProductVariant{ID: cl.VariantID}, quantity: cl.Quantity})
			ids = append(ids, cl.ID)
		}
	} else {
		for i, l := range in.Lines {
			lines = append(lines, &line{field: fmt.Sprintf("lines[%d]", i), variant: &ent.ProductVariant{ID: l.VariantID},
				quantity: l.Quantity, expected: l.ExpectedUnitPrice})
		}
	}
	if len(lines) > MaxLines {
		return nil, nil, apperror.BadInput("lines", "at most %d lines per checkout", MaxLines)
	}
	for _, l := range lines {
		if l.quantity < 1 || l.quantity > MaxQuantity {
			return nil, nil, apperror.BadInput(l.field+".quantity", "must be between 1 and %d", MaxQuantity)
		}
	}
	return lines, ids, nil
}

// priceLines loads the lines' variants with their products and merchants as they are now,
// checks that each can be bought, and groups them by merchant in the order of the lines.
//
// The variants are read as the caller: one it may not see (a draft or delisted product,
// a merchant not trading, an id that never existed) is NOT_FOUND with the same message
// whatever the reason, so ids tried in turn tell nothing about hidden products. What the
// caller sees but cannot buy (merchant staff trying their own draft) is CONFLICT, named.
// Every line is priced in its merchant's currency and one checkout in one currency, so no
// amount is ever relabelled as another currency.
func priceLines(ctx context.Context, db *ent.Client, lines []*line) ([]*group, string, error) {
	ids := make([]int, len(lines))
	for i, l := range lines {
		ids[i] = l.variant.ID
	}
	pvs, err := db.ProductVariant.Query().
		Where(productvariant.IDIn(uniqueInts(ids)...)).
		WithProduct(func(q *ent.ProductQuery) { q.WithMerchant() }).
		All(ctx)
	if err != nil {
		return nil, "", err
	}
	byID := make(map[int]*ent.ProductVariant, len(pvs))
	for _, pv := range pvs {
		// Privacy filters the eager-loaded edges too; a variant seen without its product
		// or merchant is not one the caller may buy.
		if pv.Edges.Product != nil && pv.Edges.Product.Edges.Merchant != nil {
			byID[pv.ID] = pv
		}
	}
	var (
		groups   []*group
		byMerch  = map[int]*group{}
		currency string
		wanted   = map[int]int{}
	)
	for _, l := range lines {
		pv, ok := byID[l.variant.ID]
		if !ok {
			return nil, "", variantNotFound(l.field)
		}
		l.variant = pv
		p := pv.Edges.Product
		m := p.Edges.Merchant
		switch {
		case p.Status != product.StatusACTIVE:
			e := apperror.ConflictOn(l.field, "%q is not on sale", p.Title)
			e.Extensions = map[string]any{"reason": "UNAVAILABLE"}
			return nil, "", e
		case m.Status != merchant.StatusACTIVE || !standing.IsOpen(m, standing.Now(ctx)):
			// Suspended or removed by the platform (internal/credit): the public does not
			// see the shop at all; its own staff are told.
			e := apperror.ConflictOn(l.field, "%s is not taking orders at the moment", m.Name)
			e.Extensions = map[string]any{"reason": "MERCHANT_UNAVAILABLE"}
			return nil, "", e
		case pv.Currency != m.Currency:
			// The catalog refuses such variants; one written around it is not sold, as
			// its price and the merchant's shipping fee could not be added up.
			e := apperror.ConflictOn(l.field, "%q is priced in %s, which %s does not take", p.Title, pv.Currency, m.Name)
			e.Extensions = map[string]any{"reason": "UNAVAILABLE"}
			return nil, "", e
		}
		if currency == "" {
			currency = pv.Currency
		} else if pv.Currency != currency {
			return nil, "", apperror.BadInput(l.field, "is priced in %s; one checkout pays in one currency (%s)", pv.Currency, currency)
		}
		if l.expected != nil {
			want, err := money.ParseAmount(*l.expected, pv.Currency)
			if err != nil {
				return nil, "", apperror.BadInput(l.field+".expectedUnitPrice", "is not an amount: %v", err)
			}
			if want != pv.Price {
				now := money.Money{Minor: pv.Price, Currency: pv.Currency}
				e := apperror.ConflictOn(l.field, "the price of %q changed from %s to %s", p.Title,
					money.Money{Minor: want, Currency: pv.Currency}.Formatted(), now.Formatted())
				e.Extensions = map[string]any{"reason": "PRICE_CHANGED", "unitPrice": now.Amount()}
				return nil, "", e
			}
		}
		// A fast, friendly refusal; the conditional decrement is what really guards stock.
		wanted[pv.ID] += l.quantity
		if wanted[pv.ID] > pv.Stock {
			e := apperror.ConflictOn(l.field, "only %d of %q left in stock, %d asked for", pv.Stock, p.Title, wanted[pv.ID])
			e.Extensions = map[string]any{"reason": ReasonOutOfStock, "available": pv.Stock}
			return nil, "", e
		}
		g, ok := byMerch[m.ID]
		if !ok {
			g = &group{merchant: m, fulfilment: order.FulfilmentSERVICE}
			byMerch[m.ID] = g
			groups = append(groups, g)
		}
		g.lines = append(g.lines, l)
		g.subtotal += pv.Price * int64(l.quantity)
		switch {
		case p.Kind == product.KindPHYSICAL:
			g.fulfilment = order.FulfilmentPHYSICAL
		case p.Kind == product.KindVIRTUAL && g.fulfilment == order.FulfilmentSERVICE:
			g.fulfilment = order.FulfilmentVIRTUAL
		}
	}
	for _, g := range groups {
		g.shipping = cart.ShippingFee(g.merchant, g.subtotal, g.fulfilment == order.FulfilmentPHYSICAL)
	}
	return groups, currency, nil
}

// variantNotFound is what a line naming a variant the caller may not buy or see gets,
// the same for a hidden one as for an id that never existed.
func variantNotFound(field string) error {
	return &apperror.Error{Code: apperror.NotFound, Field: field, Message: "no such product variant on sale"}
}

// readAddress resolves where physical goods go and whom the merchant may call.
func (s *Service) readAddress(ctx context.Context, db *ent.Client, in PlaceInput, physical bool) (schematype.Address, Contact, error) {
	var addr schematype.Address
	have := false
	switch {
	case in.AddressID != nil && in.ShippingAddress != nil:
		return addr, Contact{}, apperror.BadInput("addressID", "give addressID or shippingAddress, not both")
	case in.AddressID != nil:
		a, err := db.Address.Get(ctx, *in.AddressID) // privacy: the caller's own only
		if err != nil {
			if ent.IsNotFound(err) || privacyDenied(err) {
				return addr, Contact{}, apperror.BadInput("addressID", "is not one of your saved addresses")
			}
			return addr, Contact{}, err
		}
		addr, have = cart.AddressSnapshot(a), true
	case in.ShippingAddress != nil:
		a, err := cart.ValidateAddress(*in.ShippingAddress, "shippingAddress")
		if err != nil {
			return addr, Contact{}, err
		}
		addr, have = a, true
	}
	if physical && !have {
		return addr, Contact{}, apperror.BadInput("shippingAddress", "physical goods need a shipping address (addressID or shippingAddress)")
	}
	c := Contact{Name: addr.RecipientName, Phone: addr.Phone}
	if in.Contact != nil {
		name := strings.TrimSpace(in.Contact.Name)
		if name == "" || len([]rune(name)) > 64 {
			return addr, Contact{}, apperror.BadInput("contact.name", "must be 1 to 64 characters")
		}
		phone, err := cart.ValidatePhone("contact.phone", in.Contact.Phone)
		if err != nil {
			return addr, Contact{}, err
		}
		c = Contact{Name: name, Phone: phone}
	}
	if c.Phone == "" {
		return addr, Contact{}, apperror.BadInput("contact", "is required when nothing ships (how does the merchant reach you?)")
	}
	return addr, c, nil
}

// requestHash fingerprints a placeOrder input, without its idempotency key.
func requestHash(in PlaceInput) string {
	in.IdempotencyKey = ""
	b, _ := json.Marshal(in)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// orderNumber is the date and ten random digits, such as 2611221234567890: readable over
// the phone, sortable by day, and revealing nothing about how many orders there are.
func orderNumber(now time.Time) (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1e10))
	if err != nil {
		return "", err
	}
	return now.In(beijing).Format("060102") + fmt.Sprintf("%010d", n.Int64()), nil
}

// Order numbers use the date in China, where the customers are.
var beijing = time.FixedZone("CST", 8*60*60)

func uniqueInts(xs []int) []int {
	seen := make(map[int]bool, len(xs))
	out := make([]int, 0, len(xs))
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
