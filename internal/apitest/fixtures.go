package apitest

import (
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent/merchant"
	"github.com/xiadan/xiadan/ent/product"
	"github.com/xiadan/xiadan/ent/user"
	"github.com/xiadan/xiadan/internal/auth"
)

// Merchant is a merchant created for a test, with its signed-in owner.
type Merchant struct {
	ID    string
	IntID int
	Owner Session
}

// NewMerchant registers an owner and gives them a merchant in the given status (ACTIVE
// for an operating shop), written directly so tests need not replay onboarding.
func (s *Server) NewMerchant(t testing.TB, slug string, status merchant.Status) Merchant {
	t.Helper()
	owner := s.Register(slug+"-owner@example.com", slug+" owner")
	client, ctx := s.Client()
	uid, _ := strconv.Atoi(owner.UserID)
	m, err := client.Merchant.Create().
		SetName(slug).SetSlug(slug).SetContactName("Owner").SetContactPhone("13800000000").
		SetContactEmail(slug + "@example.com").SetLicenceNumber("91310000MA1FL8XQ37").SetLegalName(slug + " Ltd").
		SetOwnerID(uid).SetStatus(status).SetShippingFlatFee(1000).SetFreeShippingThreshold(9900).
		Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.User.UpdateOneID(uid).SetMerchantID(m.ID).SetMerchantRole(user.MerchantRoleOWNER).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return Merchant{ID: strconv.Itoa(m.ID), IntID: m.ID, Owner: owner}
}

// AddStaff registers a person and makes them staff of m.
func (s *Server) AddStaff(t testing.TB, m Merchant, email string) Session {
	t.Helper()
	staff := s.Register(email, "Staff")
	client, ctx := s.Client()
	uid, _ := strconv.Atoi(staff.UserID)
	if err := client.User.UpdateOneID(uid).SetMerchantID(m.IntID).SetMerchantRole(user.MerchantRoleSTAFF).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return staff
}

// NewAdmin creates a platform admin and signs it in.
func (s *Server) NewAdmin(t testing.TB, email string) Session {
	t.Helper()
	client, ctx := s.Client()
	if _, err := auth.CreateAdmin(ctx, client, email, Password, "Admin"); err != nil {
		t.Fatal(err)
	}
	return s.Login(email)
}

// NewProduct gives m an ACTIVE product with one variant (price in minor units of m's
// currency), written directly, and returns the product's and the variant's ids.
func (s *Server) NewProduct(t testing.TB, m Merchant, title string, kind product.Kind, sku string, price int64, stock int) (productID, variantID int) {
	t.Helper()
	client, ctx := s.Client()
	owner, err := client.Merchant.Get(ctx, m.IntID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := client.Product.Create().SetMerchantID(m.IntID).SetTitle(title).SetKind(kind).
		SetStatus(product.StatusACTIVE).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := client.ProductVariant.Create().SetProductID(p.ID).SetMerchantID(m.IntID).SetSku(sku).
		SetPrice(price).SetCurrency(owner.Currency).SetStock(stock).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return p.ID, v.ID
}
