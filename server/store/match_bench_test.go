package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkRemoteEntriesHeld is a step-1 lookup: ten entries among an
// index of 20,000, a commit before each (as each query's audit event is),
// so that the read starts as the asker's does.
func BenchmarkRemoteEntriesHeld(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "node.db"), Options{Agency: "alpha"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	entry := func(i int) []byte { return []byte(fmt.Sprintf("entry-%010d", i)) }
	var held [][]byte
	for i := range 20000 {
		held = append(held, entry(i))
	}
	if err := s.Write(ctx, func(tx *Tx) error {
		if err := tx.PutRemoteIndex(RemoteIndex{IndexID: "bravo-1", Holder: "bravo", Epoch: 1, PublicKey: []byte("k")}); err != nil {
			return err
		}
		return tx.ApplyRemoteEntries("bravo-1", held, nil)
	}); err != nil {
		b.Fatal(err)
	}
	asked := make([][]byte, 10)
	for i := range asked {
		asked[i] = entry(i * 1999)
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		if err := recordRead(b, s, i); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		got, err := s.RemoteEntriesHeld(ctx, "bravo-1", asked)
		if err != nil || len(got) != len(asked) {
			b.Fatal(len(got), err)
		}
	}
}
