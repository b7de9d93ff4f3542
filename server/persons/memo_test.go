package persons

import (
	"fmt"
	"testing"
)

// TestMemo: a word is computed once while it is in use, words past the
// bound age out, and the memo never holds more than two generations.
func TestMemo(t *testing.T) {
	t.Parallel()
	m := NewMemo[int](3)
	calls := 0
	f := func(w string) int { calls++; return len(w) }
	for range 3 {
		if got := m.Get("abc", f); got != 3 {
			t.Fatalf("Get(abc) = %d, want 3", got)
		}
	}
	if calls != 1 {
		t.Fatalf("abc computed %d times, want once", calls)
	}
	for i := range 100 {
		m.Get(fmt.Sprint("w", i), f)
		m.Get("abc", f) // in use: stays
	}
	if calls != 101 {
		t.Errorf("%d computations for 101 words, want 101 (abc kept while in use)", calls)
	}
	if n := len(m.cur) + len(m.prev); n > 6 {
		t.Errorf("memo holds %d words, want at most 6", n)
	}
	m.Get("w0", f) // aged out long ago
	if calls != 102 {
		t.Errorf("w0 was still kept after 100 other words")
	}
}
