package storecache

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// backend keeps encoded answers by key.
type backend interface {
	get(ctx context.Context, key string) ([]byte, bool, error)
	set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// purge drops everything (the in-process store, when the generation moves).
	purge()
}

// memory is a size-bounded LRU with a TTL per entry, safe for concurrent use.
type memory struct {
	mu         sync.Mutex
	maxEntries int
	maxBytes   int
	bytes      int
	order      *list.List // front: most recently used
	items      map[string]*list.Element
	now        func() time.Time
}

type memoryEntry struct {
	key     string
	value   []byte
	expires time.Time
}

func newMemory(maxEntries, maxBytes int) *memory {
	return &memory{maxEntries: maxEntries, maxBytes: maxBytes, order: list.New(),
		items: map[string]*list.Element{}, now: time.Now}
}

func (m *memory) get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*memoryEntry)
	if m.now().After(e.expires) {
		m.remove(el)
		return nil, false, nil
	}
	m.order.MoveToFront(el)
	return e.value, true, nil
}

func (m *memory) set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if len(value) > m.maxBytes {
		return nil // larger than the whole cache: not kept
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[key]; ok {
		m.remove(el)
	}
	m.items[key] = m.order.PushFront(&memoryEntry{key: key, value: value, expires: m.now().Add(ttl)})
	m.bytes += len(key) + len(value)
	for m.order.Len() > m.maxEntries || m.bytes > m.maxBytes {
		m.remove(m.order.Back())
	}
	return nil
}

func (m *memory) remove(el *list.Element) {
	e := m.order.Remove(el).(*memoryEntry)
	delete(m.items, e.key)
	m.bytes -= len(e.key) + len(e.value)
}

func (m *memory) purge() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.order.Init()
	clear(m.items)
	m.bytes = 0
}

// len is the number of entries (tests).
func (m *memory) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

// redisStore keeps answers in Redis, shared by every replica.
type redisStore struct {
	client *redis.Client
	prefix string
}

func (r redisStore) get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := r.client.Get(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

func (r redisStore) set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return r.client.Set(ctx, r.prefix+key, value, ttl).Err()
}

// purge does nothing: Redis entries of an older generation are never served (the
// generation is checked on read), are overwritten by the next fill and expire with
// their TTL.
func (redisStore) purge() {}

// flight runs one computation per key at a time; callers that come while it runs wait
// for its result.
type flight struct {
	mu    sync.Mutex
	calls map[string]*call
}

type call struct {
	done chan struct{}
	val  *answer
}

// do runs fn for key unless a run is under way, in which case it waits for that run
// (or ctx) and returns its result with shared true.
func (f *flight) do(ctx context.Context, key string, fn func() *answer) (val *answer, shared bool, err error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*call{}
	}
	if c, ok := f.calls[key]; ok {
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.val, true, nil
		case <-ctx.Done():
			return nil, true, ctx.Err()
		}
	}
	c := &call{done: make(chan struct{})}
	f.calls[key] = c
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.calls, key)
		f.mu.Unlock()
		close(c.done)
	}()
	c.val = fn()
	return c.val, false, nil
}
