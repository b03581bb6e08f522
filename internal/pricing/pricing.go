// Package pricing is the arithmetic of promotions at checkout: a basket of priced lines,
// the adjustments promotions make to it in a fixed order of stages, and how each
// adjustment is allocated to lines so that refunds give back the right share.
//
// It holds no promotion of its own. Each kind of promotion (coupons, automatic
// promotions, member prices, red packets, creator attribution) is a Provider in its own
// package; the checkout runs the providers over a basket with Run, shows the result, and
// in placeOrder's transaction lets each provider Commit what it used.
//
// The rules every provider gets for free from Basket:
//   - Stages run in order (Stage); a stage sees the lines as the earlier stages left them.
//   - At StagePrice each provider proposes unit prices; per line the lowest proposal wins
//     and the others are dropped (a flash-sale price and a member price never add up).
//   - No line is discounted below zero and no shipping fee below zero: amounts beyond
//     what is left are cut, never carried over.
//   - Shipping discounts are kept apart from goods discounts.
package pricing

import (
	"context"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/xiadan/xiadan/ent"
)

// Stage orders the adjustments of a basket.
type Stage int

// The stages, in the order they run.
const (
	// StagePrice replaces unit prices: flash sales (秒杀/限时折扣) and member prices.
	StagePrice Stage = 1 + iota
	// StageAutomatic is merchant promotions that need no claim: full reduction (满减)
	// tiers, buy N get M, a member tier's discount.
	StageAutomatic
	// StageShopCoupon is at most one coupon per merchant.
	StageShopCoupon
	// StagePlatformCoupon is at most one platform coupon per checkout.
	StagePlatformCoupon
	// StageRedPacket is wallet-like credits (红包) spent on what is left.
	StageRedPacket
	// StageShipping discounts shipping fees only.
	StageShipping
	// StageRecord changes no price: attribution and experiments record at Commit.
	StageRecord
)

// Kind names what made an adjustment; it is shown to customers and kept on orders.
type Kind string

// The kinds of adjustment.
const (
	KindFlashSale      Kind = "FLASH_SALE"
	KindMemberPrice    Kind = "MEMBER_PRICE"
	KindFullReduction  Kind = "FULL_REDUCTION"
	KindBuyNGetM       Kind = "BUY_N_GET_M"
	KindTierDiscount   Kind = "TIER_DISCOUNT"
	KindShopCoupon     Kind = "SHOP_COUPON"
	KindPlatformCoupon Kind = "PLATFORM_COUPON"
	KindRedPacket      Kind = "RED_PACKET"
	KindFreeShipping   Kind = "FREE_SHIPPING"
)

// Funder is who pays for a discount: it decides whose settlement carries it.
type Funder string

// Funders.
const (
	FundedByMerchant Funder = "MERCHANT"
	FundedByPlatform Funder = "PLATFORM"
)

// Line is one line of a basket.
type Line struct {
	// Index is the line's position in Basket.Lines (and in the order of the checkout input).
	Index                            int
	VariantID, ProductID, MerchantID int
	// CategoryID is the product's category; 0 when it has none.
	CategoryID int
	Quantity   int
	// ListPrice is the variant's price per unit, before any promotion.
	ListPrice int64
	// Discount is what the adjustments so far take off the line in total (price stage
	// included).
	Discount int64
}

// Gross is the line at list price.
func (l *Line) Gross() int64 { return l.ListPrice * int64(l.Quantity) }

// Net is what the line costs after the adjustments so far; never below zero.
func (l *Line) Net() int64 { return l.Gross() - l.Discount }

// Choice is what the customer chose; the zero value lets the engine pick the best.
type Choice struct {
	// CouponIDs are the claimed coupons to use. Nil picks the best combination; an empty,
	// non-nil slice uses none.
	CouponIDs []int
	// UseRedPackets false spends no red packet; nil or true spends the best.
	UseRedPackets *bool
	// AttributionCode is a creator's or partner's code the customer came with.
	AttributionCode string
}

// Basket is what a checkout buys, as the stages price it.
type Basket struct {
	// UserID is the customer.
	UserID   int
	Currency string
	// Now is the time promotions are judged at (validity windows, rains).
	Now   time.Time
	Lines []*Line
	// Shipping is each merchant's shipping fee before discounts.
	Shipping map[int]int64
	// Adjustments are what the stages did, in order.
	Adjustments []*Adjustment
	Choice      Choice

	proposals map[int]*Adjustment // StagePrice: line index → winning proposal
	shipOff   map[int]int64       // merchant → shipping discount so far
}

// Adjustment is one promotion's effect on a basket.
type Adjustment struct {
	Stage Stage
	Kind  Kind
	// SourceID is the row that made it (promotion, coupon, red packet); 0 when none.
	SourceID int
	// MerchantID is the merchant whose order it belongs to; 0 for one spread over several
	// merchants' orders (a platform coupon, red packets).
	MerchantID int
	FundedBy   Funder
	// Label is shown to the customer, such as "满200减30".
	Label string
	// Lines is the goods discount per line index; Amount is their sum.
	Lines  map[int]int64
	Amount int64
	// Shipping is the shipping discount per merchant; ShippingAmount is its sum.
	Shipping       map[int]int64
	ShippingAmount int64
	// Data is the provider's own note for Commit (such as which coupon row to use).
	Data any
}

// Provider is one kind of promotion.
type Provider interface {
	// Stage is when the provider's adjustments apply.
	Stage() Stage
	// Quote adds the provider's adjustments to b with b.ProposePrice, b.Add or
	// b.AddShipping, reading what it needs with db. It writes nothing: the cart calls it
	// on every read.
	Quote(ctx context.Context, db *ent.Client, b *Basket) error
	// Commit claims what the provider's adjustments in b use (coupon uses, flash-sale
	// stock, red packet balance) with conditional writes in db's transaction, after the
	// orders exist: orders maps merchant id → order id. Something gone since the quote is
	// a CONFLICT error with extensions.reason, and the checkout rolls back.
	Commit(ctx context.Context, db *ent.Client, b *Basket, orders map[int]int) error
}

// Releaser is a provider that gives back what an order used when the order is cancelled
// in full (coupon uses, flash-sale stock, red packets), in db's transaction.
type Releaser interface {
	Release(ctx context.Context, db *ent.Client, o *ent.Order) error
}

// RefundObserver is a provider that follows refunds (a creator's commission is reversed
// in proportion), in the refund's transaction. amount is this refund's goods amount.
type RefundObserver interface {
	Refunded(ctx context.Context, db *ent.Client, o *ent.Order, amount int64) error
}

// NewBasket returns a basket of lines (their Index is set here) and shipping fees.
func NewBasket(userID int, currency string, now time.Time, lines []*Line, shipping map[int]int64) *Basket {
	for i, l := range lines {
		l.Index = i
	}
	if shipping == nil {
		shipping = map[int]int64{}
	}
	return &Basket{UserID: userID, Currency: currency, Now: now, Lines: lines, Shipping: shipping}
}

// Run quotes the providers over b, stage by stage; providers of one stage run in the
// order given. After StagePrice the winning price proposals become adjustments.
func Run(ctx context.Context, db *ent.Client, b *Basket, providers []Provider) error {
	ps := slices.Clone(providers)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Stage() < ps[j].Stage() })
	priced := false
	for _, p := range ps {
		if p.Stage() > StagePrice && !priced {
			b.settlePrices()
			priced = true
		}
		if err := p.Quote(ctx, db, b); err != nil {
			return err
		}
	}
	if !priced {
		b.settlePrices()
	}
	return nil
}

// Commit lets each provider claim what it used, in stage order.
func Commit(ctx context.Context, db *ent.Client, b *Basket, providers []Provider, orders map[int]int) error {
	ps := slices.Clone(providers)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Stage() < ps[j].Stage() })
	for _, p := range ps {
		if err := p.Commit(ctx, db, b, orders); err != nil {
			return err
		}
	}
	return nil
}

// ProposePrice offers unit price for line i at StagePrice. The lowest proposal below the
// list price wins; a tie keeps the first. a describes the promotion (its Lines, Amount
// and Stage are filled in here).
func (b *Basket) ProposePrice(i int, price int64, a Adjustment) {
	if i < 0 || i >= len(b.Lines) || price < 0 {
		return
	}
	l := b.Lines[i]
	if price >= l.ListPrice {
		return
	}
	amount := (l.ListPrice - price) * int64(l.Quantity)
	if cur, ok := b.proposals[i]; ok && cur.Amount >= amount {
		return
	}
	if b.proposals == nil {
		b.proposals = map[int]*Adjustment{}
	}
	a.Stage = StagePrice
	a.Lines = map[int]int64{i: amount}
	a.Amount = amount
	a.Shipping, a.ShippingAmount = nil, 0
	b.proposals[i] = &a
}

// settlePrices turns the winning price proposals into adjustments, in line order.
func (b *Basket) settlePrices() {
	if len(b.proposals) == 0 {
		return
	}
	for i := range b.Lines {
		if a, ok := b.proposals[i]; ok {
			b.Lines[i].Discount += a.Amount
			b.Adjustments = append(b.Adjustments, a)
		}
	}
	b.proposals = nil
}

// Add applies a goods adjustment: a.Lines says how much to take off each line. Each line
// is cut to what is left of it; Amount becomes the sum actually taken. An adjustment
// that takes nothing is dropped, and Add returns it as nil.
func (b *Basket) Add(a Adjustment) *Adjustment {
	lines := map[int]int64{}
	var total int64
	for _, i := range sortedKeys(a.Lines) {
		if i < 0 || i >= len(b.Lines) {
			continue
		}
		amt := min(a.Lines[i], b.Lines[i].Net())
		if amt <= 0 {
			continue
		}
		b.Lines[i].Discount += amt
		lines[i] = amt
		total += amt
	}
	if total == 0 {
		return nil
	}
	a.Lines, a.Amount = lines, total
	a.Shipping, a.ShippingAmount = nil, 0
	b.Adjustments = append(b.Adjustments, &a)
	return &a
}

// Spread takes amount off the given lines in proportion to what is left of each (see
// Allocate), cut to their total. The result is the a.Lines to pass to Add.
func (b *Basket) Spread(lines []int, amount int64) map[int]int64 {
	weights := make([]int64, len(lines))
	for k, i := range lines {
		if i >= 0 && i < len(b.Lines) {
			weights[k] = b.Lines[i].Net()
		}
	}
	parts := Allocate(amount, weights)
	out := make(map[int]int64, len(lines))
	for k, i := range lines {
		if parts[k] > 0 {
			out[i] += parts[k]
		}
	}
	return out
}

// AddShipping applies a shipping discount: a.Shipping says how much to take off each
// merchant's fee, cut to what is left of it. Dropped (nil) when it takes nothing.
func (b *Basket) AddShipping(a Adjustment) *Adjustment {
	if b.shipOff == nil {
		b.shipOff = map[int]int64{}
	}
	ship := map[int]int64{}
	var total int64
	for _, m := range sortedKeys(a.Shipping) {
		amt := min(a.Shipping[m], b.Shipping[m]-b.shipOff[m])
		if amt <= 0 {
			continue
		}
		b.shipOff[m] += amt
		ship[m] = amt
		total += amt
	}
	if total == 0 {
		return nil
	}
	a.Shipping, a.ShippingAmount = ship, total
	a.Lines, a.Amount = nil, 0
	b.Adjustments = append(b.Adjustments, &a)
	return &a
}

// Clone returns a deep copy for what-if quotes (which coupon combination is best).
func (b *Basket) Clone() *Basket {
	c := *b
	c.Lines = make([]*Line, len(b.Lines))
	for i, l := range b.Lines {
		cl := *l
		c.Lines[i] = &cl
	}
	c.Adjustments = slices.Clone(b.Adjustments)
	c.Shipping = cloneMap(b.Shipping)
	c.shipOff = cloneMap(b.shipOff)
	if b.proposals != nil {
		c.proposals = make(map[int]*Adjustment, len(b.proposals))
		for k, v := range b.proposals {
			c.proposals[k] = v
		}
	}
	c.Choice.CouponIDs = slices.Clone(b.Choice.CouponIDs)
	return &c
}

// Merchants are the merchants of the lines, in the order of their first line.
func (b *Basket) Merchants() []int {
	var out []int
	seen := map[int]bool{}
	for _, l := range b.Lines {
		if !seen[l.MerchantID] {
			seen[l.MerchantID] = true
			out = append(out, l.MerchantID)
		}
	}
	return out
}

// LinesOf returns the indexes of merchant's lines (all lines for merchant 0).
func (b *Basket) LinesOf(merchant int) []int {
	var out []int
	for _, l := range b.Lines {
		if merchant == 0 || l.MerchantID == merchant {
			out = append(out, l.Index)
		}
	}
	return out
}

// Totals is one merchant's money after the adjustments: its order's figures.
type Totals struct {
	// Subtotal is the lines at list price; Discount is the goods adjustments on them.
	Subtotal, Discount int64
	// Shipping is the fee before discounts; ShippingDiscount what is taken off it.
	Shipping, ShippingDiscount int64
	// Total is Subtotal - Discount + Shipping - ShippingDiscount.
	Total int64
}

// TotalsOf returns merchant's totals (the whole basket's for merchant 0).
func (b *Basket) TotalsOf(merchant int) Totals {
	var t Totals
	for _, l := range b.Lines {
		if merchant == 0 || l.MerchantID == merchant {
			t.Subtotal += l.Gross()
			t.Discount += l.Discount
		}
	}
	for m, fee := range b.Shipping {
		if merchant == 0 || m == merchant {
			t.Shipping += fee
			t.ShippingDiscount += b.shipOff[m]
		}
	}
	t.Total = t.Subtotal - t.Discount + t.Shipping - t.ShippingDiscount
	return t
}

// Allocate splits amount over weights in proportion, in whole minor units, by largest
// remainder (ties to the earlier weight). No part exceeds its weight and the parts sum
// to min(amount, sum of weights); zero and negative weights get nothing.
func Allocate(amount int64, weights []int64) []int64 {
	parts := make([]int64, len(weights))
	var sum int64
	for _, w := range weights {
		if w > 0 {
			sum += w
		}
	}
	if amount <= 0 || sum == 0 {
		return parts
	}
	if amount >= sum {
		for i, w := range weights {
			parts[i] = max(w, 0)
		}
		return parts
	}
	type rem struct {
		i int
		r int64
	}
	var (
		given int64
		rems  []rem
	)
	for i, w := range weights {
		if w <= 0 {
			continue
		}
		// amount*w can overflow int64 for absurd amounts; split the product.
		q, r := mulDiv(amount, w, sum)
		parts[i] = q
		given += q
		rems = append(rems, rem{i, r})
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for k := 0; given < amount && k < len(rems); k++ {
		if parts[rems[k].i] < weights[rems[k].i] {
			parts[rems[k].i]++
			given++
		}
	}
	return parts
}

// mulDiv returns a*b/c and its remainder for non-negative a, b and positive c without
// overflowing where a*b would.
func mulDiv(a, b, c int64) (int64, int64) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi == 0 && lo <= 1<<63-1 {
		p := int64(lo)
		return p / c, p % c
	}
	// Callers have a < c, so the quotient is below b and hi below c.
	q, r := bits.Div64(hi, lo, uint64(c))
	return int64(q), int64(r)
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func cloneMap(m map[int]int64) map[int]int64 {
	if m == nil {
		return nil
	}
	out := make(map[int]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// AudienceChecker answers whether a user belongs to a named audience, so coupons and
// promotions can target them: a member tier ("tier:GOLD"), a merchant's customer group
// ("group:12"), an experiment arm ("experiment:coupon-value/B"). An audience name is
// "<prefix>:<rest>"; each checker answers for one prefix.
type AudienceChecker interface {
	// Prefix is the part of the names before the colon ("tier", "group", "experiment").
	Prefix() string
	// InAudience reports whether userID belongs to the audience rest (the name after the
	// colon). An unknown audience is false, not an error.
	InAudience(ctx context.Context, db *ent.Client, userID int, rest string) (bool, error)
}

// AudienceOwner is an AudienceChecker whose audiences belong to someone: a merchant's
// customer groups are its own, experiments the platform's. MayTarget reports whether
// merchantID (0 for the platform) may aim a coupon or promotion at the audience rest.
type AudienceOwner interface {
	MayTarget(ctx context.Context, db *ent.Client, merchantID int, rest string) (bool, error)
}

// Untargetable returns the index of the first of names that merchantID (0 for the
// platform) may not target, or -1 when it may target them all. A name whose prefix no
// checker answers is allowed (it matches nobody); checkers that are not AudienceOwners
// allow everyone.
func Untargetable(ctx context.Context, db *ent.Client, checkers []AudienceChecker, merchantID int, names []string) (int, error) {
	for i, name := range names {
		prefix, rest, ok := strings.Cut(strings.TrimSpace(name), ":")
		if !ok {
			continue
		}
		for _, c := range checkers {
			o, owned := c.(AudienceOwner)
			if c.Prefix() != prefix || !owned {
				continue
			}
			may, err := o.MayTarget(ctx, db, merchantID, rest)
			if err != nil {
				return -1, err
			}
			if !may {
				return i, nil
			}
		}
	}
	return -1, nil
}

// Audiences answers audience names for one user, remembering each answer: build one per
// quote or request so a name asked about for several promotions is checked once.
type Audiences struct {
	Checkers []AudienceChecker
	UserID   int
	seen     map[string]bool
}

// In reports whether the user belongs to any of names: everyone when names is empty,
// nobody signed out otherwise, and nobody for a name whose prefix no checker answers.
func (a *Audiences) In(ctx context.Context, db *ent.Client, names []string) (bool, error) {
	if len(names) == 0 {
		return true, nil
	}
	if a.UserID == 0 {
		return false, nil
	}
	for _, name := range names {
		ok, known := a.seen[name]
		if !known {
			var err error
			if ok, err = a.check(ctx, db, name); err != nil {
				return false, err
			}
			if a.seen == nil {
				a.seen = map[string]bool{}
			}
			a.seen[name] = ok
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

func (a *Audiences) check(ctx context.Context, db *ent.Client, name string) (bool, error) {
	prefix, rest, ok := strings.Cut(strings.TrimSpace(name), ":")
	if !ok {
		return false, nil
	}
	for _, c := range a.Checkers {
		if c.Prefix() == prefix {
			return c.InAudience(ctx, db, a.UserID, rest)
		}
	}
	return false, nil
}

// LineOf is the basket line of quantity units of variant pv of product p, sold by
// merchantID. The cart and placeOrder both build their baskets with it, so they quote the
// same lines the same way.
func LineOf(pv *ent.ProductVariant, p *ent.Product, merchantID, quantity int) *Line {
	cat := 0
	if p.CategoryID != nil {
		cat = *p.CategoryID
	}
	return &Line{VariantID: pv.ID, ProductID: p.ID, MerchantID: merchantID, CategoryID: cat,
		Quantity: quantity, ListPrice: pv.Price}
}
