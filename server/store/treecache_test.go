package store

import (
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// The writer's cache of tree hashes keeps exactly the newest
// treeCacheSize hashes, evicting the oldest first.
func TestTreeCache_KeepsTheNewest(t *testing.T) {
	var c treeCache
	const n = 3*treeCacheSize + 17
	for i := int64(0); i < n; i += 7 {
		var hs []storedHash
		for j := i; j < i+7 && j < n; j++ {
			hs = append(hs, storedHash{idx: j, hash: tlog.Hash{byte(j), byte(j >> 8)}})
		}
		c.add(hs)
	}
	if len(c.byIdx) != treeCacheSize {
		t.Fatalf("cache holds %d hashes, want %d", len(c.byIdx), treeCacheSize)
	}
	for j := int64(0); j < n; j++ {
		h, ok := c.byIdx[j]
		if want := j >= n-treeCacheSize; ok != want {
			t.Fatalf("hash %d cached %v, want %v", j, ok, want)
		}
		if ok && h != (tlog.Hash{byte(j), byte(j >> 8)}) {
			t.Fatalf("hash %d is wrong", j)
		}
	}
	c.add([]storedHash{{idx: n - 1, hash: tlog.Hash{1}}}) // stored again: replaced, nothing evicted
	if len(c.byIdx) != treeCacheSize || c.byIdx[n-1] != (tlog.Hash{1}) {
		t.Fatal("re-adding a cached hash changed what is cached")
	}
	if _, ok := c.byIdx[n-treeCacheSize]; !ok {
		t.Fatal("re-adding a cached hash evicted another")
	}
}
