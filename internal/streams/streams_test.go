package streams

import (
	"errors"
	"testing"

	"github.com/xiadan/xiadan/internal/events"
	"github.com/xiadan/xiadan/internal/viewer"
)

// TestRegistry pins whom an access change concerns and how the cap counts: per person,
// per API client, per address without a token. internal/app drives the same through real
// websockets and event streams (TestOpenStreamsAreCappedPerAccount,
// TestAccessChangesCloseStreamsAtOnce).
func TestRegistry(t *testing.T) {
	staff := &viewer.Viewer{UserID: 1, MerchantID: 10, Roles: []viewer.Role{viewer.RoleMerchant}}
	buyer := &viewer.Viewer{UserID: 2}
	partner := &viewer.Viewer{APIClientID: 7, PartnerMerchantIDs: []int{10, 11}, Roles: []viewer.Role{viewer.RolePartner}}
	other := &viewer.Viewer{APIClientID: 8, PartnerMerchantIDs: []int{12}, Roles: []viewer.Role{viewer.RolePartner}}
	for _, tc := range []struct {
		name   string
		change events.AccessChange
		closed []*viewer.Viewer
	}{
		{"a user", events.AccessChange{UserIDs: []int{2}}, []*viewer.Viewer{buyer}},
		{"a client", events.AccessChange{APIClientIDs: []int{8}}, []*viewer.Viewer{other}},
		{"a merchant: its staff and its partners", events.AccessChange{MerchantIDs: []int{10}}, []*viewer.Viewer{staff, partner}},
		{"a partner's other merchant", events.AccessChange{MerchantIDs: []int{11}}, []*viewer.Viewer{partner}},
		{"no one", events.AccessChange{UserIDs: []int{99}, MerchantIDs: []int{99}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(10)
			closed := map[*viewer.Viewer]bool{}
			for _, v := range []*viewer.Viewer{staff, buyer, partner, other, nil} {
				if _, err := r.Open(v, "203.0.113.9", func() { closed[v] = true }); err != nil {
					t.Fatal(err)
				}
			}
			if n := r.Close(tc.change); n != len(tc.closed) || len(closed) != len(tc.closed) {
				t.Fatalf("closed %d (%v), want %v", n, closed, tc.closed)
			}
			for _, v := range tc.closed {
				if !closed[v] {
					t.Fatalf("%+v not closed", v)
				}
			}
		})
	}

	r := New(2)
	var releases []func()
	for _, v := range []*viewer.Viewer{buyer, {UserID: 2, Roles: []viewer.Role{viewer.RoleCustomer}}} {
		release, err := r.Open(v, "a", func() {})
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	var tooMany *TooManyError
	if _, err := r.Open(buyer, "b", func() {}); !errors.As(err, &tooMany) || tooMany.Max != 2 {
		t.Fatalf("a third connection of one person: %v", err)
	}
	if _, err := r.Open(staff, "a", func() {}); err != nil {
		t.Fatalf("someone else: %v", err)
	}
	for range 2 {
		if _, err := r.Open(nil, "a", func() {}); err != nil {
			t.Fatalf("anonymous: %v", err)
		}
	}
	if _, err := r.Open(nil, "a", func() {}); !errors.As(err, &tooMany) {
		t.Fatalf("a third anonymous connection from one address: %v", err)
	}
	if _, err := r.Open(nil, "b", func() {}); err != nil {
		t.Fatalf("another address: %v", err)
	}
	releases[0]()
	releases[0]() // twice is harmless
	if _, err := r.Open(buyer, "a", func() {}); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if r.Len() != 6 {
		t.Fatalf("open: %d", r.Len())
	}
}
