package readthrough

import "sync"

// memo remembers the last decoding of each key's cached bytes. A warm entry
// is read on every authenticated request, and decoding its JSON cost more
// than everything else a cached GET /auth/me does (perf/results). The memo
// answers only when the bytes the cache just returned are identical to the
// ones it decoded, so it can never serve anything the cache does not hold:
// invalidation stays entirely the cache's business.
type memo[T any] struct {
	mu    sync.RWMutex
	m     map[string]memoEntry[T]
	max   int
	clone func(T) T // callers get their own copy of pointer fields
}

type memoEntry[T any] struct {
	raw string
	v   T
}

// memoEntries bounds a memo. Past it the memo starts over: cheaper than
// tracking recency, and a full reset costs only a round of decodes.
const memoEntries = 16384

func newMemo[T any](clone func(T) T) *memo[T] {
	return &memo[T]{m: map[string]memoEntry[T]{}, max: memoEntries, clone: clone}
}

// decode returns dec(raw), from the memo when key's last decoded bytes
// equal raw.
func (m *memo[T]) decode(key string, raw []byte, dec func([]byte) (T, error)) (T, error) {
	m.mu.RLock()
	e, ok := m.m[key]
	m.mu.RUnlock()
	if ok && e.raw == string(raw) {
		return m.clone(e.v), nil
	}
	v, err := dec(raw)
	if err != nil {
		return v, err
	}
	m.mu.Lock()
	if len(m.m) >= m.max {
		clear(m.m)
	}
	m.m[key] = memoEntry[T]{raw: string(raw), v: v}
	m.mu.Unlock()
	return m.clone(v), nil
}
