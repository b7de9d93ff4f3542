package match

import (
	"context"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/store"
)

// TestIndexer_IdleCycleWritesNothing: a cycle that finds nothing changed
// reads and writes nothing (no group commit); one after a change writes
// its update.
func TestIndexer_IdleCycleWritesNothing(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "node.db"), store.Options{Agency: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ix := NewIndexer(IndexerOptions{Store: s, Own: "alpha", Partners: []string{"bravo"}, Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err := ix.Cycle(ctx); err != nil { // starts, scans and completes epoch 1
		t.Fatal(err)
	}
	commits := func() int64 { return s.Stats().Batches }
	before := commits()
	for range 3 {
		if err := ix.Cycle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := commits() - before; n != 0 {
		t.Errorf("three idle cycles made %d group commits, want none", n)
	}
	now := timestamppb.Now()
	l := &liaisonv1.Lead{Id: "0190a000-0000-7000-8000-000000000001", OriginAgency: "alpha", Title: "t", Version: 1, CreateTime: now, UpdateTime: now,
		Handling: &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H1},
		Subjects: []*liaisonv1.Person{{Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Wei"}},
			Documents: []*liaisonv1.IdentityDocument{{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: "E1234567", IssuingCountry: "CHN"}}}}}
	if err := s.Write(ctx, func(tx *store.Tx) error { return tx.InsertLead(l) }); err != nil {
		t.Fatal(err)
	}
	before = commits()
	if err := ix.Cycle(ctx); err != nil {
		t.Fatal(err)
	}
	published, pending, err := s.MatchCounts(ctx, "bravo", 1)
	if err != nil {
		t.Fatal(err)
	}
	if commits() == before || published == 0 || pending != 0 {
		t.Errorf("after a new lead: %d group commits, %d entries published, %d pending; want the update written", commits()-before, published, pending)
	}
}
