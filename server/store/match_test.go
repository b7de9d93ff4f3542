package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// TestRemoteEntriesHeld: one call answers which of many entries a
// partner's index holds — more than a statement could bind as parameters
// (SQLite allows 32,766) — and only that index's.
func TestRemoteEntriesHeld(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, filepath.Join(t.TempDir(), "node.db"))
	entry := func(i int) []byte { return []byte(fmt.Sprintf("entry-%010d", i)) }
	var held, other, asked [][]byte
	for i := range 40_007 {
		asked = append(asked, entry(i))
		switch i % 3 {
		case 0:
			held = append(held, entry(i))
		case 1:
			other = append(other, entry(i)) // in another partner's index
		}
	}
	err := s.Write(ctx, func(tx *Tx) error {
		for _, ix := range []RemoteIndex{{IndexID: "bravo-1", Holder: "bravo", Epoch: 1, PublicKey: []byte("k")}, {IndexID: "charlie-1", Holder: "charlie", Epoch: 1, PublicKey: []byte("k")}} {
			if err := tx.PutRemoteIndex(ix); err != nil {
				return err
			}
		}
		if err := tx.ApplyRemoteEntries("bravo-1", held, nil); err != nil {
			return err
		}
		return tx.ApplyRemoteEntries("charlie-1", other, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.RemoteEntriesHeld(ctx, "bravo-1", asked)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range asked {
		if want := i%3 == 0; got[string(e)] != want {
			t.Errorf("entry %d: held %v, want %v", i, got[string(e)], want)
		}
	}
	if len(got) != len(held) {
		t.Errorf("%d entries held, want %d", len(got), len(held))
	}
	if none, err := s.RemoteEntriesHeld(ctx, "bravo-1", nil); err != nil || len(none) != 0 {
		t.Errorf("no entries asked: %v, %v", none, err)
	}
}
