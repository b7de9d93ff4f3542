package persons

import "sync"

// Memo keeps what a function of a word returned, for words that recur
// (the words of names, across the candidates of a search and across
// searches). It holds up to twice its size in two generations: when the
// current one is full it becomes the previous one and the one before is
// dropped, so the words in use stay and any others age out — a word is
// anyone's to choose in a query, so nothing grows without bound.
type Memo[V any] struct {
	mu        sync.Mutex
	size      int
	cur, prev map[string]V
}

// NewMemo returns a Memo of size words a generation.
func NewMemo[V any](size int) *Memo[V] {
	return &Memo[V]{size: size, cur: make(map[string]V)}
}

// Get returns the value kept for w, else compute(w), kept.
func (m *Memo[V]) Get(w string, compute func(string) V) V {
	m.mu.Lock()
	v, ok := m.cur[w]
	if !ok {
		if v, ok = m.prev[w]; ok {
			m.put(w, v)
		}
	}
	m.mu.Unlock()
	if ok {
		return v
	}
	v = compute(w)
	m.mu.Lock()
	m.put(w, v)
	m.mu.Unlock()
	return v
}

func (m *Memo[V]) put(w string, v V) {
	if len(m.cur) >= m.size {
		m.prev, m.cur = m.cur, make(map[string]V, m.size)
	}
	m.cur[w] = v
}
