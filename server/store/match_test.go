package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
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

// TestMatchCounts_OneSnapshot: an epoch's counts of entries sent and
// waiting are read together. An entry moves from waiting to sent in the
// transaction that sends it; read apart, a count taken while entries are
// being sent showed fewer sent and none waiting — what "the partner holds
// the whole index" looks like (the flaky liaisonbench match phase: bravo's
// 382 entries read as 1 sent, 0 waiting).
func TestMatchCounts_OneSnapshot(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, filepath.Join(t.TempDir(), "node.db"))
	const n = 300
	var entries []MatchEntry
	for i := range n {
		entries = append(entries, MatchEntry{Entry: []byte(fmt.Sprintf("entry-%04d", i))})
	}
	if err := s.Write(ctx, func(tx *Tx) error {
		if err := tx.InsertMatchEpoch(MatchEpoch{Partner: "bravo", Epoch: 1, IndexID: "index-1", Start: time.Now().UTC()}); err != nil {
			return err
		}
		return tx.SetRecordEntries("bravo", 1, "lead", "lead-1", entries)
	}); err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() {
		for _, e := range entries {
			one := [][]byte{e.Entry}
			if err := s.Write(ctx, func(tx *Tx) error { return tx.PublishMatchEntries("bravo", 1, one, nil, one) }); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for reads := 0; ; reads++ {
		published, pending, err := s.MatchCounts(ctx, "bravo", 1)
		if err != nil {
			t.Fatal(err)
		}
		if published+pending != n {
			t.Fatalf("read %d: %d sent and %d waiting, want %d in all", reads, published, pending, n)
		}
		if published == n {
			break
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}
