package storecache

import (
	"context"
	"testing"
	"time"
)

func TestMemoryStoreIsBoundedAndExpires(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	m := newMemory(2, 1<<20)
	m.now = func() time.Time { return now }
	_ = m.set(ctx, "a", []byte("1"), time.Minute)
	_ = m.set(ctx, "b", []byte("2"), time.Minute)
	if _, ok, _ := m.get(ctx, "a"); !ok { // a is now the most recently used
		t.Fatal("a missing")
	}
	_ = m.set(ctx, "c", []byte("3"), time.Minute)
	if _, ok, _ := m.get(ctx, "b"); ok {
		t.Error("b, the least recently used, was kept beyond 2 entries")
	}
	if m.len() != 2 {
		t.Errorf("%d entries, want 2", m.len())
	}
	now = now.Add(2 * time.Minute)
	if _, ok, _ := m.get(ctx, "a"); ok {
		t.Error("an expired entry was served")
	}

	small := newMemory(100, 10)
	_ = small.set(ctx, "k1", []byte("12345"), time.Minute)
	_ = small.set(ctx, "k2", []byte("12345"), time.Minute)
	if small.len() != 1 || small.bytes > 10 {
		t.Errorf("byte bound: %d entries, %d bytes", small.len(), small.bytes)
	}
	_ = small.set(ctx, "huge", make([]byte, 100), time.Minute)
	if _, ok, _ := small.get(ctx, "huge"); ok {
		t.Error("an entry larger than the store was kept")
	}
	small.purge()
	if small.len() != 0 || small.bytes != 0 {
		t.Error("purge left entries")
	}
}

func TestCacheableDocument(t *testing.T) {
	for _, tc := range []struct {
		query, name string
		want        bool
	}{
		{`{ products(first: 5) { edges { node { id } } } }`, "", true},
		{`query A { products(first: 5) { totalCount } } query B { me { id } }`, "A", true},
		{`query A { products(first: 5) { totalCount } } query B { me { id } }`, "B", false},
		{`query A { products(first: 5) { totalCount } } query B { me { id } }`, "", false},
		{`{ products(first: 5) { totalCount } me { id } }`, "", false},
		{`{ ...F } fragment F on Query { categories { id } }`, "", true},
		{`{ ...F } fragment F on Query { cart { id } }`, "", false},
		{`{ node(id: "1") { id } }`, "", false},
		{`mutation { logout }`, "", false},
		{`subscription { orderEvents { id } }`, "", false},
		{`{ products(`, "", false},
	} {
		if got := cacheableDocument(tc.query, tc.name); got != tc.want {
			t.Errorf("%s (%s): %v, want %v", tc.query, tc.name, got, tc.want)
		}
	}
}

func TestCanonicalVariables(t *testing.T) {
	a, _ := canonical([]byte(`{"b": 2, "a": {"y": 1, "x": 12345678901234567890}}`))
	b, _ := canonical([]byte(`{"a":{"x":12345678901234567890,"y":1},"b":2}`))
	if a != b {
		t.Errorf("%s != %s", a, b)
	}
	if n, _ := canonical(nil); n != "null" {
		t.Errorf("no variables: %q", n)
	}
	if _, ok := canonical([]byte(`{`)); ok {
		t.Error("bad JSON accepted")
	}
}
