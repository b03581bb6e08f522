package cart_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/cart"
)

const addressFields = `id recipientName phone country province city district street postalCode isDefault`

type addressOut struct {
	ID, RecipientName, Phone, Country, Province, City, District, Street, PostalCode string
	IsDefault                                                                       bool
}

// addressIn is a valid AddressInput with overrides.
func addressIn(name string, kv ...any) map[string]any {
	in := map[string]any{"recipientName": name, "phone": "13800138000", "province": "浙江省", "city": "杭州市",
		"district": "西湖区", "street": "文三路 90 号", "postalCode": "310012"}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(in, kv[i].(string))
			continue
		}
		in[kv[i].(string)] = kv[i+1]
	}
	return in
}

func addAddress(t *testing.T, s *apitest.Server, token string, in map[string]any) addressOut {
	t.Helper()
	r := s.MustQuery(token, `mutation($i: AddressInput!) { addAddress(input: $i) { `+addressFields+` } }`, map[string]any{"i": in})
	var out struct{ AddAddress addressOut }
	r.Decode(t, &out)
	return out.AddAddress
}

func listAddresses(t *testing.T, s *apitest.Server, token string) []addressOut {
	t.Helper()
	r := s.MustQuery(token, `{ addresses { `+addressFields+` } }`, nil)
	var out struct{ Addresses []addressOut }
	r.Decode(t, &out)
	return out.Addresses
}

// names lists the recipients in order, marking the default with a star.
func names(as []addressOut) string {
	var b []string
	for _, a := range as {
		n := a.RecipientName
		if a.IsDefault {
			n += "*"
		}
		b = append(b, n)
	}
	return strings.Join(b, ",")
}

// The address book keeps exactly one default: the first address, or the one chosen; the
// list shows it first, then the newest; deleting it promotes the newest remaining one.
func TestAddressBook(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		tok := w.buyer.AccessToken

		a := addAddress(t, s, tok, addressIn("  张三 ", "country", "cn"))
		if !a.IsDefault || a.RecipientName != "张三" || a.Country != "CN" || a.District != "西湖区" {
			t.Fatalf("first address: %+v", a)
		}
		b := addAddress(t, s, tok, addressIn("李四", "district", nil, "postalCode", nil, "isDefault", false))
		if b.IsDefault || b.District != "" || b.PostalCode != "" || b.Country != "CN" {
			t.Fatalf("second address: %+v", b)
		}
		addAddress(t, s, tok, addressIn("Wang Wu", "phone", "+852 2345-6789", "country", "HK", "postalCode", nil))
		if got := names(listAddresses(t, s, tok)); got != "张三*,Wang Wu,李四" {
			t.Fatalf("list: %s", got)
		}
		addAddress(t, s, tok, addressIn("赵六", "isDefault", true))
		if got := names(listAddresses(t, s, tok)); got != "赵六*,Wang Wu,李四,张三" {
			t.Fatalf("a new default replaces the old: %s", got)
		}

		r := s.MustQuery(tok, `mutation($id: ID!) { setDefaultAddress(id: $id) { isDefault } }`, map[string]any{"id": b.ID})
		if string(r.Data) != `{"setDefaultAddress":{"isDefault":true}}` {
			t.Fatalf("setDefault: %s", r.Data)
		}
		if got := names(listAddresses(t, s, tok)); got != "李四*,赵六,Wang Wu,张三" {
			t.Fatalf("after setDefault: %s", got)
		}

		r = s.MustQuery(tok, `mutation($id: ID!, $i: UpdateAddressInput!) { updateAddress(id: $id, input: $i) { `+addressFields+` } }`,
			map[string]any{"id": a.ID, "i": map[string]any{"street": "天目山路 1 号", "phone": "13900139000", "isDefault": true}})
		var upd struct{ UpdateAddress addressOut }
		r.Decode(t, &upd)
		if u := upd.UpdateAddress; u.Street != "天目山路 1 号" || u.Phone != "13900139000" || u.RecipientName != "张三" ||
			u.PostalCode != "310012" || !u.IsDefault {
			t.Fatalf("update keeps what is left out: %+v", u)
		}
		if got := names(listAddresses(t, s, tok)); got != "张三*,赵六,Wang Wu,李四" {
			t.Fatalf("after update: %s", got)
		}
		wantError(t, s.Query(tok, `mutation($id: ID!) { updateAddress(id: $id, input: {isDefault: false}) { id } }`,
			map[string]any{"id": a.ID}), "BAD_USER_INPUT", "isDefault")

		r = s.MustQuery(tok, `mutation($id: ID!) { deleteAddress(id: $id) }`, map[string]any{"id": a.ID})
		if string(r.Data) != `{"deleteAddress":"`+a.ID+`"}` {
			t.Fatalf("delete: %s", r.Data)
		}
		if got := names(listAddresses(t, s, tok)); got != "赵六*,Wang Wu,李四" {
			t.Fatalf("deleting the default promotes the newest: %s", got)
		}

		// Another customer finds none of it.
		other := w.other.AccessToken
		if got := listAddresses(t, s, other); len(got) != 0 {
			t.Fatalf("another customer sees %+v", got)
		}
		for _, q := range []string{
			`mutation($id: ID!) { updateAddress(id: $id, input: {city: "x"}) { id } }`,
			`mutation($id: ID!) { deleteAddress(id: $id) }`,
			`mutation($id: ID!) { setDefaultAddress(id: $id) { id } }`,
		} {
			wantError(t, s.Query(other, q, map[string]any{"id": b.ID}), "NOT_FOUND", "id")
		}
		wantError(t, s.Query(tok, `mutation { deleteAddress(id: "999999") }`, nil), "NOT_FOUND", "id")
		if got := names(listAddresses(t, s, tok)); got != "赵六*,Wang Wu,李四" {
			t.Fatalf("refused changes changed: %s", got)
		}
	})
}

// Invalid addresses are refused naming the field; nothing is saved.
func TestAddressValidation(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		tok := w.buyer.AccessToken
		for _, c := range []struct {
			name  string
			in    map[string]any
			field string
		}{
			{"blank recipient", addressIn("   "), "recipientName"},
			{"long recipient", addressIn(strings.Repeat("x", 65)), "recipientName"},
			{"recipient over 64 characters", addressIn(strings.Repeat("张", 65)), "recipientName"},
			{"recipient with a newline", addressIn("a\nb"), "recipientName"},
			{"blank phone", addressIn("A", "phone", ""), "phone"},
			{"short mobile", addressIn("A", "phone", "1380013800"), "phone"},
			{"mobile starting 12", addressIn("A", "phone", "12800138000"), "phone"},
			{"no country code", addressIn("A", "phone", "0571-88888888"), "phone"},
			{"letters in phone", addressIn("A", "phone", "+86 abc 1234"), "phone"},
			{"country name", addressIn("A", "country", "China"), "country"},
			{"blank province", addressIn("A", "province", ""), "province"},
			{"blank city", addressIn("A", "city", " "), "city"},
			{"long district", addressIn("A", "district", strings.Repeat("d", 65)), "district"},
			{"blank street", addressIn("A", "street", ""), "street"},
			{"long street", addressIn("A", "street", strings.Repeat("s", 201)), "street"},
			{"Chinese postal code", addressIn("A", "postalCode", "31001"), "postalCode"},
			{"foreign postal code", addressIn("A", "country", "GB", "postalCode", "SW1A_1AA"), "postalCode"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := s.Query(tok, `mutation($i: AddressInput!) { addAddress(input: $i) { id } }`, map[string]any{"i": c.in})
				wantError(t, r, "BAD_USER_INPUT", c.field)
			})
		}
		a := addAddress(t, s, tok, addressIn("A", "country", "GB", "phone", "+44 20 7946 0958", "postalCode", "SW1A 1AA"))
		wantError(t, s.Query(tok, `mutation($id: ID!) { updateAddress(id: $id, input: {phone: "123"}) { id } }`,
			map[string]any{"id": a.ID}), "BAD_USER_INPUT", "phone")
		if got := listAddresses(t, s, tok); len(got) != 1 || got[0].Phone != "+44 20 7946 0958" {
			t.Fatalf("addresses: %+v", got)
		}
		// Limits count characters: 64 Chinese characters (192 bytes) fit and come back whole.
		long := strings.Repeat("张", 64)
		addAddress(t, s, tok, addressIn(long))
		if got := listAddresses(t, s, tok); len(got) != 2 || (got[0].RecipientName != long && got[1].RecipientName != long) {
			t.Fatalf("a 64-character name: %+v", got)
		}
	})
}

// A customer keeps at most cart.MaxAddresses addresses.
func TestAddressLimit(t *testing.T) {
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		w := newWorld(t, s)
		client, ctx := s.Client()
		uid, _ := strconv.Atoi(w.buyer.UserID)
		for i := range cart.MaxAddresses {
			client.Address.Create().SetUserID(uid).SetRecipientName("R" + strconv.Itoa(i)).SetPhone("13800138000").
				SetProvince("P").SetCity("C").SetStreet("S").SetIsDefault(i == 0).ExecX(ctx)
		}
		r := s.Query(w.buyer.AccessToken, `mutation($i: AddressInput!) { addAddress(input: $i) { id } }`,
			map[string]any{"i": addressIn("One too many")})
		wantError(t, r, "BAD_USER_INPUT", "")
		addAddress(t, s, w.other.AccessToken, addressIn("Someone else")) // the limit is per customer
	})
}

// ValidateAddress names fields under the caller's prefix, for one-off order addresses.
func TestValidateAddressPrefix(t *testing.T) {
	_, err := cart.ValidateAddress(cart.AddressInput{RecipientName: "A", Phone: "x", Province: "P", City: "C", Street: "S"}, "shippingAddress")
	if err == nil || !strings.Contains(err.Error(), "shippingAddress.phone") {
		t.Fatalf("got %v", err)
	}
	a, err := cart.ValidateAddress(cart.AddressInput{RecipientName: "A", Phone: "13800138000", Province: "P", City: "C", Street: "S"}, "shippingAddress")
	if err != nil || a.Country != "CN" {
		t.Fatalf("got %+v, %v", a, err)
	}
}
